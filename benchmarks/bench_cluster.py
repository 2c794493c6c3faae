"""Throughput and latency of a local 3-node cluster, fsync on, 100-byte events.

    .venv/bin/python benchmarks/bench_cluster.py [--seconds 10] [--appenders 64]

Not a test: it prints figures. (1) committed events/s with N concurrent single-event
appenders; (2) p50/p99 append latency with one append in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from eventlog.client import AsyncClient
from eventlog.localcluster import local_cluster
from eventlog.records import NewEvent

PAYLOAD = b"x" * 100


async def throughput(addresses: str, appenders: int, seconds: float) -> float:
    done = 0
    deadline = time.monotonic() + seconds

    async def appender(n: int) -> None:
        nonlocal done
        async with AsyncClient(addresses, timeout=30) as client:
            while time.monotonic() < deadline:
                await client.append(f"bench-{n}", [NewEvent("Bench", PAYLOAD)])
                done += 1

    started = time.monotonic()
    await asyncio.gather(*(appender(n) for n in range(appenders)))
    return done / (time.monotonic() - started)


async def latency(addresses: str, count: int) -> list[float]:
    samples = []
    async with AsyncClient(addresses, timeout=30) as client:
        await client.append("latency", [NewEvent("Bench", PAYLOAD)])  # connect, find leader
        for _ in range(count):
            started = time.perf_counter()
            await client.append("latency", [NewEvent("Bench", PAYLOAD)])
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(coroutine):  # type: ignore[no-untyped-def]
    """The same event loop the nodes use: uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--appenders", type=int, default=64)
    parser.add_argument("--latency-samples", type=int, default=2000)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp)) as cluster:
        cluster.leader(timeout=20)
        # Clients in the same order as the nodes: the leader is found by redirect.
        rate = run(throughput(cluster.addresses, args.appenders, args.seconds))
        samples = run(latency(cluster.addresses, args.latency_samples))
    quantiles = statistics.quantiles(samples, n=100)
    table = Table(title=f"3-node cluster, fsync on, 100-byte events, {os.cpu_count()} cores")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"committed events/s, {args.appenders} single-event appenders", f"{rate:,.0f}")
    table.add_row("append latency p50, one in flight", f"{quantiles[49]:.2f} ms")
    table.add_row("append latency p99, one in flight", f"{quantiles[98]:.2f} ms")
    console.print(table)


if __name__ == "__main__":
    main()
