"""Overload: a local 3-node cluster (fsync on) with 10,000 appends in flight for 30 s, beside
the same cluster with 64 in flight as the yardstick, in one run.

    .venv/bin/python benchmarks/bench_overload.py [--seconds 30] [--in-flight 10000]

Not a test: it prints figures and ratios. Each of N appenders appends one 100-byte event at a
time, every one with a payload of its own, through one ``AsyncClient``. Measured each second:
appends acknowledged, calls that failed (by error), the leader (and so leader changes), and
the leader's and the client's resident memory and open file descriptors. At the end the whole
log is read back: every acknowledged payload must be there exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

from eventlog import AsyncClient, EventLogError, NewEvent
from eventraft.localcluster import LocalCluster, local_cluster


def rss_mib(pid: int, kind: str = "VmRSS") -> float:
    """Resident memory in MiB: all of it (``VmRSS``), or only the process's own heap and
    stacks (``RssAnon``), leaving out the pages of files it maps (LMDB's map grows with the
    log, and the kernel may drop those pages whenever it needs the room)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@attrs.define
class Load:
    """Appenders that each append one 100-byte event at a time, a payload of its own each,
    until ``stop``; what they were told is counted here."""

    client: AsyncClient
    stop: float
    start: float = attrs.field(factory=time.monotonic)
    acked: list[bytes] = attrs.field(factory=list)
    per_second: collections.Counter[int] = attrs.field(factory=collections.Counter)
    errors: collections.Counter[str] = attrs.field(factory=collections.Counter)

    async def appender(self, worker: int) -> None:
        n = 0
        while time.monotonic() < self.stop:
            payload = b"%d-%d" % (worker, n)
            n += 1
            try:
                await self.client.append(f"load-{worker % 64}", [NewEvent("E", payload.ljust(100))])
            except EventLogError as error:
                self.errors[type(error).__name__] += 1
                continue
            self.acked.append(payload)
            self.per_second[int(time.monotonic() - self.start)] += 1

    async def run(self, in_flight: int) -> None:
        await asyncio.gather(*(self.appender(i) for i in range(in_flight)))

    async def check(self, addresses: str) -> tuple[int, int]:
        """Read the whole log back: (acknowledged and missing, acknowledged and twice)."""
        log = AsyncClient(addresses, timeout=60.0)
        stored = collections.Counter(e.data.rstrip() for e in await log.read_all())
        await log.close()
        await self.client.close()
        lost = sum(1 for payload in self.acked if stored[payload] == 0)
        return lost, sum(1 for payload in self.acked if stored[payload] > 1)


async def run_load(cluster: LocalCluster, in_flight: int, seconds: float) -> dict[str, Any]:
    load = Load(AsyncClient(cluster.addresses, timeout=10.0), time.monotonic() + seconds)
    stop = load.stop

    samples: list[dict[str, Any]] = []

    def sample() -> dict[str, Any]:
        """In a thread: the cluster's status calls must not hold up the appenders' loop."""
        statuses = cluster.statuses()
        leaders = [n for n, status in statuses.items() if status.role == "leader"]
        leader = leaders[0] if len(leaders) == 1 else None
        process = cluster.nodes[leader].process if leader else None
        pid = process.pid if process is not None else None
        return {
            "term": max((status.term for status in statuses.values()), default=0),
            "leader": leader,
            "leader_rss": rss_mib(pid) if pid else 0.0,
            "leader_anon": rss_mib(pid, "RssAnon") if pid else 0.0,
            "leader_fds": fds(pid) if pid else 0,
            "client_rss": rss_mib(os.getpid()),
            "client_fds": fds(os.getpid()),
        }

    async def sampler() -> None:
        while time.monotonic() < stop:
            await asyncio.sleep(1.0)
            samples.append(await asyncio.to_thread(sample))

    sampling = asyncio.ensure_future(sampler())
    await load.run(in_flight)
    await sampling
    lost, duplicated = await load.check(cluster.addresses)
    rates = [load.per_second.get(second, 0) for second in range(int(seconds))]
    leaders = [s["leader"] for s in samples if s["leader"]]
    return {
        "rates": rates,
        "acked": len(load.acked),
        "errors": dict(load.errors),
        "lost": lost,
        "duplicated": duplicated,
        "leader_changes": sum(1 for a, b in itertools.pairwise(leaders) if a != b),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--in-flight", type=int, default=10_000)
    parser.add_argument(
        "--yardstick", type=int, default=64, help="appends in flight to compare with"
    )
    args = parser.parse_args()
    results = {}
    for label, in_flight, seconds in (
        ("yardstick", args.yardstick, max(10.0, args.seconds / 3)),
        ("overload", args.in_flight, args.seconds),
    ):
        with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp)) as cluster:
            cluster.leader(timeout=30)
            results[label] = asyncio.run(run_load(cluster, in_flight, seconds))
    steady = statistics.median(results["yardstick"]["rates"][2:] or [0])
    table = Table(title="eventraft under overload (3 nodes, fsync on, 100-byte events)")
    for column in ("", "yardstick", "overload"):
        table.add_column(column)
    yard, over = results["yardstick"], results["overload"]

    def row(name: str, pick: Any) -> None:
        table.add_row(name, str(pick(yard)), str(pick(over)))

    row("in flight", lambda r: args.yardstick if r is yard else args.in_flight)
    row("acked/s median", lambda r: statistics.median(r["rates"][2:] or [0]))
    row("acked/s min after 5 s", lambda r: min(r["rates"][5:] or [0]))
    row("errors", lambda r: r["errors"] or "none")
    row("leader changes", lambda r: r["leader_changes"])
    row("lost / duplicated", lambda r: f"{r['lost']} / {r['duplicated']}")
    for key in ("term", "leader_rss", "leader_anon", "leader_fds", "client_rss", "client_fds"):
        row(
            f"{key} first..max",
            lambda r, k=key: (
                f"{r['samples'][0][k]:.0f}..{max(s[k] for s in r['samples']):.0f}"
                if r["samples"]
                else "-"
            ),
        )
    console = Console()
    console.print(table)
    over_median = statistics.median(over["rates"][2:] or [0])
    console.print(
        f"overload/yardstick throughput: {over_median / steady:.2f} (median), "
        f"{min(over['rates'][5:] or [0]) / steady:.2f} (worst second after 5 s)"
        if steady
        else "no yardstick rate"
    )


if __name__ == "__main__":
    main()
