"""The log from the command line: ``status``, ``append`` and ``read``."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from typing import Any

import click

from eventlog import ANY, AsyncClient, Client, EventLogError, NewEvent, RecordedEvent
from eventlog.protocol.addresses import parse_addresses
from eventlog.protocol.answers import pack_status
from eventraft.cli.options import cluster_id_option, cluster_option
from eventraft.console import output_console
from eventraft.statustable import projections_table, status_table


async def _status_of(address: str, cluster_id: str, timeout: float) -> dict[str, Any]:
    client = AsyncClient([address], timeout=timeout, cluster_id=cluster_id)
    try:
        return {"address": address, **pack_status(await client.status())}
    except EventLogError as error:
        return {"address": address, "error": str(error)}
    finally:
        await client.close()


@click.command()
@cluster_option
@cluster_id_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, per address.")
@click.option("--timeout", default=2.0, show_default=True)
def status(addresses: str, cluster_id: str, as_json: bool, timeout: float) -> None:
    """Show each node's role, term, indexes, position and history digest; exit 1 if any
    address is unreachable."""
    try:
        listed = parse_addresses(addresses)
    except EventLogError as error:
        raise click.BadParameter(str(error), param_hint="--cluster") from error

    async def gather() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(_status_of(a, cluster_id, timeout) for a in listed)))

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
@click.option("--type", "event_type", default="Event", show_default=True)
@click.option("--data", "data", multiple=True, help="An event's data; repeat for more events.")
@click.option(
    "--expected-version",
    type=click.IntRange(min=ANY),
    default=ANY,
    help="-1 any, 0 no stream, N exact.",
)
@click.option("--timeout", default=10.0, show_default=True)
def append(
    addresses: str,
    cluster_id: str,
    stream: str,
    event_type: str,
    data: tuple[str, ...],
    expected_version: int,
    timeout: float,
) -> None:
    """Append events to STREAM (one per --data, or one per line of standard input)."""
    payloads = list(data) or [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    events = [NewEvent(event_type, payload.encode()) for payload in payloads]
    try:
        with Client(addresses, timeout=timeout, cluster_id=cluster_id) as client:
            result = client.append(stream, events, expected_version)
    except EventLogError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        json.dumps(
            {
                "first_position": result.first_position,
                "last_position": result.last_position,
                "stream_version": result.stream_version,
            }
        )
    )


def event_json(event: RecordedEvent) -> str:
    def text(raw: bytes) -> str:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode()

    return json.dumps(
        {
            "position": event.position,
            "stream": event.stream,
            "version": event.version,
            "type": event.type,
            "data": text(event.data),
            "metadata": text(event.metadata),
            "id": event.id.hex(),
            "timestamp": event.timestamp,
        }
    )


@click.command()
@cluster_option
@cluster_id_option
@click.option("--stream", default=None, help="Read one stream instead of the whole log.")
@click.option(
    "--from",
    "start",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="First position (or version, with --stream).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.option("--follow", is_flag=True, help="Keep printing new events as they commit.")
@click.option("--timeout", default=10.0, show_default=True)
def read(
    addresses: str,
    cluster_id: str,
    stream: str | None,
    start: int,
    limit: int | None,
    follow: bool,
    timeout: float,
) -> None:
    """Print committed events as JSON lines."""
    try:
        with Client(addresses, timeout=timeout, cluster_id=cluster_id) as client:
            if follow:
                # One stream is followed by filtering the whole log: positions are global.
                for event in client.subscribe(1 if stream else start):
                    if stream is None or (event.stream == stream and event.version >= start):
                        click.echo(event_json(event))
                return
            if stream is not None:
                events = client.read_stream(stream, start, limit)
            else:
                events = client.read_all(start, limit)
            for event in events:
                click.echo(event_json(event))
    except EventLogError as error:
        raise click.ClickException(str(error)) from error
    except KeyboardInterrupt:
        os._exit(130)
