"""Catch-up after a pause: a local 3-node cluster (fsync on) under steady load, one follower
SIGSTOPped for 20 s and then let go, in one run.

    .venv/bin/python benchmarks/bench_catchup.py [--pause 20] [--in-flight 512]

Not a test: it prints figures. Measured each second: appends acknowledged, the leader (and
so leader changes), the leader's resident memory; after SIGCONT, how long the follower takes
to hold every entry the leader had committed when it was let go. At the end the whole log is
read back: every acknowledged payload must be there exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_overload import Load, rss_mib
from rich.console import Console
from rich.table import Table

from eventlog import AsyncClient, EventLogError
from eventraft.localcluster import LocalCluster, local_cluster


async def run(cluster: LocalCluster, in_flight: int, before: float, pause: float) -> dict[str, Any]:
    leader = cluster.leader(timeout=30)
    follower = next(node for node in cluster.nodes if node != leader)
    start = time.monotonic()
    total = before + pause + max(20.0, pause)
    stop = start + total
    load = Load(AsyncClient(cluster.addresses, timeout=10.0), stop, start)
    caught_up: list[float] = []

    samples: list[dict[str, Any]] = []

    def sample() -> dict[str, Any]:
        statuses = cluster.statuses()
        leaders = [n for n, status in statuses.items() if status.role == "leader"]
        now = leaders[0] if len(leaders) == 1 else None
        process = cluster.nodes[now].process if now else None
        return {
            "leader": now,
            "term": max((status.term for status in statuses.values()), default=0),
            "leader_rss": rss_mib(process.pid) if process is not None else 0.0,
        }

    async def conductor() -> None:
        await asyncio.sleep(before)
        cluster.nodes[follower].pause()
        await asyncio.sleep(pause)
        target = (await asyncio.to_thread(cluster.status, leader)).commit_index
        cluster.nodes[follower].resume()
        resumed = time.monotonic()
        while time.monotonic() < stop:
            try:
                status = await asyncio.to_thread(cluster.status, follower)
            except EventLogError:
                status = None
            if status is not None and status.applied_index >= target:
                caught_up.append(time.monotonic() - resumed)
                return
            await asyncio.sleep(0.05)

    async def sampler() -> None:
        while time.monotonic() < stop:
            await asyncio.sleep(1.0)
            samples.append(await asyncio.to_thread(sample))

    tasks = [asyncio.ensure_future(conductor()), asyncio.ensure_future(sampler())]
    await load.run(in_flight)
    await asyncio.gather(*tasks)
    lost, duplicated = await load.check(cluster.addresses)
    leaders = [s["leader"] for s in samples if s["leader"]]
    return {
        "rates": [load.per_second.get(second, 0) for second in range(int(total))],
        "errors": dict(load.errors),
        "lost": lost,
        "duplicated": duplicated,
        "leader_changes": sum(1 for a, b in itertools.pairwise(leaders) if a != b),
        "terms": (samples[0]["term"], max(s["term"] for s in samples)) if samples else (0, 0),
        "rss": [s["leader_rss"] for s in samples],
        "caught_up": caught_up[0] if caught_up else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pause", type=float, default=20.0, help="seconds the follower stops")
    parser.add_argument("--before", type=float, default=5.0, help="seconds of load before")
    parser.add_argument("--in-flight", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp)) as cluster:
        cluster.leader(timeout=30)
        result = asyncio.run(run(cluster, args.in_flight, args.before, args.pause))
    rates, first, resumed = result["rates"], int(args.before), int(args.before + args.pause)
    table = Table(title=f"a follower stopped for {args.pause:g} s under load (3 nodes, fsync on)")
    table.add_column("")
    table.add_column("figure")
    table.add_row("acked/s before the pause (median)", str(statistics.median(rates[1:first])))
    table.add_row("acked/s while paused (median)", str(statistics.median(rates[first:resumed])))
    after = rates[resumed : resumed + 10]
    table.add_row(
        "acked/s 10 s after SIGCONT (min, median)", f"{min(after)}, {statistics.median(after)}"
    )
    caught = result["caught_up"]
    table.add_row(
        "follower caught up after SIGCONT", f"{caught:.1f} s" if caught else "not in time"
    )
    table.add_row("leader changes (terms)", f"{result['leader_changes']} {result['terms']}")
    table.add_row(
        "leader RSS MiB (first, max)", f"{result['rss'][0]:.0f}, {max(result['rss']):.0f}"
    )
    table.add_row("errors", str(result["errors"] or "none"))
    table.add_row("lost / duplicated", f"{result['lost']} / {result['duplicated']}")
    console = Console()
    console.print(table)
    console.print("per second:", rates)


if __name__ == "__main__":
    main()
