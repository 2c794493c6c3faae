"""``eventraft bench``: committed appends/s and append latency of a cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from eventraft.cli.options import log_level
from eventraft.console import output_console

if TYPE_CHECKING:
    from eventraft.bench import Figures


@click.command()
@click.option(
    "--cluster",
    "addresses",
    default=None,
    metavar="ADDRS",
    help="Comma-separated HOST:PORT of a running cluster to measure.  [default: a local "
    "3-node cluster (fsync on), started in a temporary directory and stopped afterwards]",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds each of the two load runs lasts.",
)
@click.option(
    "--appenders",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Appends in flight during the load runs, each waiting for its acknowledgement.",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Appends timed one at a time, for the latency figures.",
)
@click.option(
    "--event-bytes",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Bytes of data in each event appended.",
)
def bench(
    addresses: str | None, seconds: float, appenders: int, samples: int, event_bytes: int
) -> None:
    """Measure committed appends/s and append latency. It writes streams named bench-*."""
    import tempfile

    from eventraft.bench import measure
    from eventraft.localcluster import local_cluster

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
        console.print(_table(figures, label, appenders, event_bytes))

    if addresses is not None:
        run(addresses, addresses)
        return
    levelled = ("--log-level", log_level())
    with (
        tempfile.TemporaryDirectory() as tmp,
        local_cluster(Path(tmp), extra_args=levelled) as local,
    ):
        local.leader(timeout=20)
        run(local.addresses, "local 3-node cluster, fsync on")


def _table(figures: Figures, label: str, appenders: int, event_bytes: int) -> Table:
    table = Table(title=f"{label}, {event_bytes}-byte events, {os.cpu_count()} cores here")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"appends/s, {appenders} appenders on one client", f"{figures.shared_rate:,.0f}")
    table.add_row(f"appends/s, {appenders} clients", f"{figures.separate_rate:,.0f}")
    table.add_row("latency p50, one in flight", f"{figures.p50_ms:.2f} ms")
    table.add_row("latency p99, one in flight", f"{figures.p99_ms:.2f} ms")
    return table
