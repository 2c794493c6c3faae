"""The cluster commands of ``eventraft``: node, cluster, status, append, read."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from eventlog.client import AsyncClient, Client
from eventlog.console import output_console
from eventlog.errors import EventLogError
from eventlog.localcluster import node_command
from eventlog.logs import bind_node
from eventlog.node.node import NodeConfig
from eventlog.protocol.addresses import parse_addresses
from eventlog.protocol.hello import DEFAULT_CLUSTER_ID
from eventlog.records import ANY, NewEvent, RecordedEvent
from eventlog.statustable import projections_table, status_table
from eventlog.types import NodeId


def register(group: click.Group) -> None:
    for command in (node, cluster, status, append, read, bench):
        group.add_command(command)


def _cluster_option(f: Any) -> Any:
    return click.option(
        "--cluster",
        "addresses",
        required=True,
        metavar="ADDRS",
        help="Comma-separated HOST:PORT of one or more nodes; any node will do.",
    )(f)


def _cluster_id_option(f: Any) -> Any:
    return click.option(
        "--cluster-id",
        default=DEFAULT_CLUSTER_ID,
        show_default=True,
        help="Identifies the cluster; nodes and clients of another cluster are refused.",
    )(f)


@click.command()
@click.option("--id", "node_id", type=click.IntRange(min=1), required=True, help="This node's id.")
@click.option(
    "--cluster",
    "cluster_map",
    required=True,
    metavar="ID=HOST:PORT,...",
    help="Every node's id and address; this node listens on its own entry, dials the others.",
)
@click.option("--data-dir", required=True, type=click.Path(path_type=Path), help="LMDB data.")
@_cluster_id_option
@click.option("--tick-ms", default=10.0, show_default=True, help="Raft tick interval.")
@click.option(
    "--unsafe-no-fsync",
    is_flag=True,
    help="UNSAFE, for tests and benchmarks only: acknowledge without fsync.",
)
@click.option(
    "--exit-with-parent",
    is_flag=True,
    help="Stop when the process that started this node is gone (local clusters use it, so a "
    "killed test run or demo leaves no node behind).",
)
def node(
    node_id: int,
    cluster_map: str,
    data_dir: Path,
    cluster_id: str,
    tick_ms: float,
    unsafe_no_fsync: bool,
    exit_with_parent: bool,
) -> None:
    """Run one node of a cluster until SIGTERM or SIGINT."""
    from eventlog.node.process import parse_cluster_map, run

    try:
        addresses = parse_cluster_map(cluster_map)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--cluster") from error
    if node_id not in addresses:
        raise click.BadParameter(f"node {node_id} is not in the cluster map", param_hint="--id")
    bind_node(node_id)
    config = NodeConfig(
        node_id=NodeId(node_id),
        cluster_id=cluster_id,
        addresses={NodeId(k): v for k, v in addresses.items()},
        data_dir=str(data_dir),
        tick_ms=tick_ms,
        sync=not unsafe_no_fsync,
    )
    try:
        run(config, exit_with_parent=exit_with_parent)
    except EventLogError as error:
        raise click.ClickException(str(error)) from error


@click.command()
@click.option("--nodes", type=click.IntRange(1, 9), default=3, show_default=True)
@click.option("--data-dir", required=True, type=click.Path(path_type=Path))
@click.option("--base-port", default=7001, show_default=True, help="Node N listens on P+N-1.")
@click.option("--host", default="127.0.0.1", show_default=True)
@_cluster_id_option
def cluster(nodes: int, data_dir: Path, base_port: int, host: str, cluster_id: str) -> None:
    """Run a local cluster of node processes until interrupted."""
    cluster_map = ",".join(f"{i}={host}:{base_port + i - 1}" for i in range(1, nodes + 1))
    children = []
    for i in range(1, nodes + 1):
        command = node_command(i, cluster_map, data_dir / f"node-{i}", "--cluster-id", cluster_id)
        children.append(subprocess.Popen(command))
    addresses = ",".join(f"{host}:{base_port + i - 1}" for i in range(1, nodes + 1))
    click.echo(f"cluster of {nodes} running; clients: --cluster {addresses}", err=True)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


async def _status_of(address: str, cluster_id: str, timeout: float) -> dict[str, Any]:
    client = AsyncClient([address], timeout=timeout, cluster_id=cluster_id)
    try:
        return {"address": address, **await client.status()}
    except EventLogError as error:
        return {"address": address, "error": str(error)}
    finally:
        await client.close()


@click.command()
@_cluster_option
@_cluster_id_option
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
@_cluster_option
@_cluster_id_option
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
@_cluster_option
@_cluster_id_option
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


@click.command()
@click.option(
    "--cluster",
    "addresses",
    default=None,
    metavar="ADDRS",
    help="Measure this running cluster; without it a local 3-node cluster (fsync on) is "
    "started in a temporary directory and stopped afterwards.",
)
@click.option("--seconds", default=10.0, show_default=True, help="Length of each load run.")
@click.option("--appenders", default=64, show_default=True, help="Appends in flight.")
@click.option("--samples", default=2000, show_default=True, help="Appends timed one by one.")
@click.option("--event-bytes", default=100, show_default=True, help="Size of each event.")
def bench(
    addresses: str | None, seconds: float, appenders: int, samples: int, event_bytes: int
) -> None:
    """Measure committed appends/s and append latency. It writes streams named bench-*."""
    import tempfile

    from eventlog.bench import measure
    from eventlog.localcluster import local_cluster

    console = output_console()

    def run(target: str, label: str) -> None:
        with console.status(f"measuring {label}"):
            figures = measure(
                target,
                appenders=appenders,
                seconds=seconds,
                samples=samples,
                payload_bytes=event_bytes,
            )
        table = Table(title=f"{label}, {event_bytes}-byte events, {os.cpu_count()} cores here")
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_row(
            f"appends/s, {appenders} appenders on one client", f"{figures.shared_rate:,.0f}"
        )
        table.add_row(f"appends/s, {appenders} clients", f"{figures.separate_rate:,.0f}")
        table.add_row("latency p50, one in flight", f"{figures.p50_ms:.2f} ms")
        table.add_row("latency p99, one in flight", f"{figures.p99_ms:.2f} ms")
        console.print(table)

    if addresses is not None:
        run(addresses, addresses)
        return
    with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp)) as local:
        local.leader(timeout=20)
        run(local.addresses, "local 3-node cluster, fsync on")
