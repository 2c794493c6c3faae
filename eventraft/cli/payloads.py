"""What ``append`` is given, checked before anything is sent: stream names, and data and
metadata that must be JSON (in UTF-8) unless ``--raw`` says to take the bytes as they are."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from eventlog.records import MAX_STREAM_NAME_BYTES
from eventraft.cli.errors import BadInput, clip

RESERVED_PREFIX = "$"
"""Streams the system writes (``$snapshot-...``); people append elsewhere."""
_RAW_HINT = "give --raw to append it as it is"


def check_stream(stream: str, *, appending: bool) -> None:
    """A stream name the log takes, and, for an append, one outside the system's streams."""
    size = len(stream.encode("utf-8"))
    if not 1 <= size <= MAX_STREAM_NAME_BYTES:
        raise BadInput(
            f"stream name {clip(stream)!r} is {size} bytes; 1 to {MAX_STREAM_NAME_BYTES} allowed"
        )
    if appending and stream.startswith(RESERVED_PREFIX):
        raise BadInput(
            f"stream {clip(stream)!r}: names starting with {RESERVED_PREFIX!r} are reserved for "
            "the system (snapshots, for one)"
        )


def payloads(data: Sequence[str], lines: Iterable[bytes], *, raw: bool) -> list[bytes]:
    """Each ``--data``, or without any, each non-blank line of ``lines`` (standard input)."""
    if data:
        return [
            _checked(item.encode("utf-8"), f"--data #{n}", raw) for n, item in enumerate(data, 1)
        ]
    result = []
    for number, line in enumerate(lines, start=1):
        payload = line.rstrip(b"\r\n")
        if payload.strip():
            result.append(_checked(payload, f"line {number} of standard input", raw))
    return result


def metadata(given: str | None, *, raw: bool) -> bytes:
    return b"" if given is None else _checked(given.encode("utf-8"), "--metadata", raw)


def _checked(payload: bytes, where: str, raw: bool) -> bytes:
    if raw:
        return payload
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(
            f"{where} is not UTF-8 (byte {error.start + 1} is 0x{payload[error.start]:02x}); "
            f"{_RAW_HINT}"
        ) from None
    try:
        json.loads(text, parse_constant=_refuse)
    except json.JSONDecodeError as error:
        reason = f"{error.msg} at column {error.colno}"
        raise BadInput(f"{where} is not JSON ({reason}); {_RAW_HINT}") from None
    except (ValueError, RecursionError) as error:
        raise BadInput(f"{where} is not JSON ({error}); {_RAW_HINT}") from None
    return payload


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is Python's, not JSON's")
