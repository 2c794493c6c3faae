"""One call to a cluster from a command: the client made from the command's options, the
call, a typed error turned into one line and exit 1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from eventlog.client.async_client import AsyncClient
from eventlog.errors import EventLogError
from eventlog.protocol.addresses import parse_addresses
from eventlog.security.tls import TLSConfig
from eventraft.cli.errors import fail

__all__ = [
    "json_option",
    "run_call",
]

T = TypeVar("T")


def run_call(
    addresses: str,
    cluster_id: str | None,
    timeout: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
    call: Callable[[AsyncClient], Awaitable[T]],
) -> T:
    try:
        listed = parse_addresses(addresses)
    except EventLogError as error:
        raise click.BadParameter(str(error), param_hint="--cluster") from error

    async def run() -> T:
        client = AsyncClient(
            listed, timeout=timeout, cluster_id=cluster_id, tls=tls, credentials=credentials
        )
        try:
            return await call(client)
        finally:
            await client.close()

    try:
        return asyncio.run(run())
    except EventLogError as error:
        fail(error)


def json_option(f: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")(f)
