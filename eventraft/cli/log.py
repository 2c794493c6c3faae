"""The log from the command line: ``status``, ``append`` and ``read``.

Each runs one ``AsyncClient`` under ``asyncio.run``, so a Ctrl-C cancels what is in flight and
closes the connections before the process exits, quietly, with exit code 130.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncGenerator, Callable, Iterable
from contextlib import aclosing
from typing import Any

import click

from eventlog import (
    ANY,
    AsyncClient,
    EventFilter,
    EventLogError,
    InvalidRequest,
    NewEvent,
    RecordedEvent,
)
from eventlog.protocol.addresses import parse_addresses
from eventlog.protocol.answers import pack_status
from eventlog.security.tls import TLSConfig
from eventraft.cli.errors import fail, message
from eventraft.cli.options import cluster_id_option, cluster_option, timeout_option
from eventraft.cli.payloads import check_stream, metadata, payloads
from eventraft.cli.tls_options import client_options
from eventraft.console import output_console
from eventraft.eventjson import event_line
from eventraft.statustable import projections_table, status_table


async def _status_of(
    address: str,
    cluster_id: str | None,
    timeout: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> dict[str, Any]:
    client = AsyncClient(
        [address], timeout=timeout, cluster_id=cluster_id, tls=tls, credentials=credentials
    )
    try:
        return {"address": address, **pack_status(await client.status())}
    except EventLogError as error:
        return {"address": address, "error": message(error)}
    finally:
        await client.close()


@click.command()
@cluster_option
@cluster_id_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line, per address, instead of a table.  [default: a table]",
)
@timeout_option(2.0, "asking each node")
@client_options
def status(
    addresses: str,
    cluster_id: str | None,
    as_json: bool,
    timeout: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> None:
    """Show each node's role, term, indexes, position and history digest; exit 1 if any
    address is unreachable."""
    try:
        listed = parse_addresses(addresses)
    except EventLogError as error:
        raise click.BadParameter(str(error), param_hint="--cluster") from error

    async def gather() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(
                *(_status_of(a, cluster_id, timeout, tls, credentials) for a in listed)
            )
        )

    rows = asyncio.run(gather())
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, sort_keys=True))
    else:
        console = output_console()
        console.print(status_table(rows, title="eventraft cluster status"))
        projections = projections_table(rows)
        if projections is not None:
            console.print(projections)
    if any("error" in row for row in rows):
        sys.exit(1)


@click.command()
@cluster_option
@cluster_id_option
@click.argument("stream")
@click.option(
    "--type", "event_type", default="Event", show_default=True, help="The events' type name."
)
@click.option(
    "--data",
    "data",
    multiple=True,
    help="An event's data, JSON unless --raw; repeat for more events.  "
    "[default: one event per line of standard input]",
)
@click.option(
    "--metadata",
    "given_metadata",
    default=None,
    help="The metadata of every event appended, JSON unless --raw.  [default: none]",
)
@click.option(
    "--raw",
    is_flag=True,
    help="Append data and metadata as given, JSON or not; lines of standard input may then "
    "be any bytes.",
)
@click.option(
    "--expected-version",
    type=click.IntRange(min=ANY),
    default=ANY,
    show_default=True,
    help="The version STREAM must be at for the append to happen: -1 any, 0 no stream yet, "
    "N exactly N events.",
)
@timeout_option(10.0, "the append")
@client_options
def append(
    addresses: str,
    cluster_id: str | None,
    stream: str,
    event_type: str,
    data: tuple[str, ...],
    given_metadata: str | None,
    raw: bool,
    expected_version: int,
    timeout: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> None:
    """Append events to STREAM, all or none: one per --data, or one per line of standard
    input. Prints the positions written, as JSON. Streams starting with $ are the system's."""
    check_stream(stream, appending=True)
    meta = metadata(given_metadata, raw=raw)
    lines: Iterable[bytes] = [] if data else sys.stdin.buffer
    events = [NewEvent(event_type, payload, meta) for payload in payloads(data, lines, raw=raw)]

    async def send() -> dict[str, int]:
        async with AsyncClient(
            addresses, timeout=timeout, cluster_id=cluster_id, tls=tls, credentials=credentials
        ) as client:
            result = await client.append(stream, events, expected_version)
        return {
            "first_position": result.first_position,
            "last_position": result.last_position,
            "stream_version": result.stream_version,
        }

    try:
        click.echo(json.dumps(asyncio.run(send())))
    except EventLogError as error:
        fail(error, names=(stream,))


@click.command()
@cluster_option
@cluster_id_option
@click.option(
    "--stream",
    default=None,
    help="Read this one stream.  [default: the whole log]",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="Read only streams whose names begin with this (repeatable), filtered by the node; "
    "streams of the system ($...) only when named.  [default: every stream]",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    help="Read only events of this type (repeatable), filtered by the node.  [default: every type]",
)
@click.option(
    "--from",
    "start",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="The first position to print, or the first version with --stream.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Print at most this many events, then stop (with --follow too).  [default: no limit]",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Then keep printing events as they commit, until Ctrl-C.",
)
@click.option(
    "--decode",
    is_flag=True,
    help="Show msgpack data and metadata (how the aggregates layer writes by default) as JSON.",
)
@timeout_option(10.0, "each read")
@client_options
def read(
    addresses: str,
    cluster_id: str | None,
    stream: str | None,
    categories: tuple[str, ...],
    types: tuple[str, ...],
    start: int,
    limit: int | None,
    follow: bool,
    decode: bool,
    timeout: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> None:
    """Print committed events, one JSON object per line: data and metadata that are JSON as
    JSON, other text as a string, other bytes as "base64:..."; timestamps in ISO 8601, UTC."""
    if stream is not None:
        check_stream(stream, appending=False)
        if categories or types:
            raise click.UsageError("--stream reads one stream: --category and --type read the log")
    try:
        filter = EventFilter(streams=categories, types=types) if categories or types else None
    except InvalidRequest as error:
        raise click.BadParameter(str(error), param_hint="--category/--type") from None

    async def run() -> None:
        async with AsyncClient(
            addresses, timeout=timeout, cluster_id=cluster_id, tls=tls, credentials=credentials
        ) as client:
            events = _events(client, stream, filter, start, limit, follow)
            await _print(events, limit, lambda event: click.echo(event_line(event, decode=decode)))

    try:
        asyncio.run(run())
    except EventLogError as error:
        fail(error, names=(stream,) if stream else ())


def _events(
    client: AsyncClient,
    stream: str | None,
    filter: EventFilter | None,
    start: int,
    limit: int | None,
    follow: bool,
) -> AsyncGenerator[RecordedEvent, None]:
    if follow:
        if stream is not None:
            return follow_stream(client, stream, start)
        return client.subscribe(start, filter=filter)
    return _read_once(client, stream, filter, start, limit)


async def _read_once(
    client: AsyncClient,
    stream: str | None,
    filter: EventFilter | None,
    start: int,
    limit: int | None,
) -> AsyncGenerator[RecordedEvent, None]:
    if stream is not None:
        events = await client.read_stream(stream, start, limit)
    else:
        events = await client.read_all(start, limit, filter=filter)
    for event in events:
        yield event


async def _print(
    events: AsyncGenerator[RecordedEvent, None],
    limit: int | None,
    emit: Callable[[RecordedEvent], None],
) -> None:
    printed = 0
    async with aclosing(events):
        async for event in events:
            emit(event)
            printed += 1
            if printed == limit:
                return


async def follow_stream(
    client: AsyncClient, stream: str, from_version: int
) -> AsyncGenerator[RecordedEvent, None]:
    """``stream``'s events from ``from_version``, then new ones as they commit. Positions are
    global, so new events of the stream come after its last event, and after the log's end
    (read first) if it has none yet: the subscription starts there, never at position 1."""
    known_end = (await client.status()).last_position
    events = await client.read_stream(stream, from_version)
    for event in events:
        yield event
    last = events[-1] if events else _first(await client.read_stream_backwards(stream, None, 1))
    after = max(known_end, last.position if last else 0)
    seen = max(from_version - 1, last.version if last else 0)
    # The node sends only the events of streams named like it (a prefix: checked here too).
    only = EventFilter(streams=(stream,), system=True)
    async with aclosing(client.subscribe(after + 1, filter=only)) as live:
        async for event in live:
            if event.stream == stream and event.version > seen:
                seen = event.version
                yield event


def _first(events: list[RecordedEvent]) -> RecordedEvent | None:
    return events[0] if events else None
