"""Addresses of nodes as users write them: ``HOST:PORT``, a list of them or one comma-separated
string; a bad one is refused at once, with its text."""

from __future__ import annotations

from collections.abc import Sequence

from eventlog.errors import InvalidRequest

__all__ = [
    "parse_addresses",
    "split_address",
]


def parse_addresses(addresses: str | Sequence[str]) -> list[str]:
    """The ``HOST:PORT`` items of ``addresses``, in order; ``InvalidRequest`` names a bad one."""
    items = addresses.split(",") if isinstance(addresses, str) else list(addresses)
    parsed = [item.strip() for item in items if item.strip()]
    if not parsed:
        raise InvalidRequest("no address given")
    for item in parsed:
        split_address(item)
    return parsed


def split_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of one ``HOST:PORT``."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidRequest(f"bad address {address!r}: expected HOST:PORT")
    return host, int(port)
