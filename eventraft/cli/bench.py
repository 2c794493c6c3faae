"""``eventraft bench``: committed appends/s and append latency of a cluster."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.table import Table

from eventraft.console import output_console


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
