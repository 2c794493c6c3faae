"""A local 3-node eventraft cluster beside a 3-node PySyncObj cluster, in one run.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/bench_cluster.py [--seconds 10] [--appenders 64]

Not a test: it prints figures and ratios. eventraft runs with fsync on and its appenders are
clients over TCP; PySyncObj keeps its log in memory without fsync and its appenders call the
leader in-process, so the comparison favours the peer. Events are 100 bytes. Measured:
committed appends/s with N appenders in flight (one append each, waiting for it before the
next), and p50/p99 latency with one append in flight. PySyncObj is skipped if not installed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from figures_cluster import pysyncobj_appends
from rich.console import Console
from rich.table import Table

from eventraft.bench import Figures, measure
from eventraft.localcluster import local_cluster


def measure_peer(seconds: float, appenders: int, samples: int) -> dict[str, float] | None:
    """PySyncObj's figures (``rate``, ``p50``, ``p99``), or None when it is not installed."""
    try:
        import pysyncobj  # noqa: F401
    except ImportError:
        return None
    figures = pysyncobj_appends(seconds, appenders, samples)
    return {"rate": figures["shared"], "p50": figures["p50"], "p99": figures["p99"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--appenders", type=int, default=64)
    parser.add_argument("--latency-samples", type=int, default=2000)
    args = parser.parse_args()
    console = Console()
    with (
        console.status("eventraft: 3 node processes, fsync on"),
        tempfile.TemporaryDirectory() as tmp,
        local_cluster(Path(tmp)) as cluster,
    ):
        cluster.leader(timeout=20)
        ours: Figures = measure(
            cluster.addresses,
            appenders=args.appenders,
            seconds=args.seconds,
            samples=args.latency_samples,
        )
    with console.status("PySyncObj: 3 node processes, in memory"):
        peer = measure_peer(args.seconds, args.appenders, args.latency_samples)
    table = Table(title=f"3-node clusters on one machine, 100-byte events, {os.cpu_count()} cores")
    for column in ("measure", "eventraft (fsync)", "PySyncObj (memory)", "ratio"):
        table.add_column(column, justify="right" if column != "measure" else "left")

    def row(name: str, value: float, peer_key: str, unit: str, higher_is_better: bool) -> None:
        if peer is None:
            table.add_row(name, f"{value:,.2f}{unit}", "not installed", "")
            return
        other = peer[peer_key]
        ratio = value / other if higher_is_better else other / value
        table.add_row(name, f"{value:,.2f}{unit}", f"{other:,.2f}{unit}", f"{ratio:.2f}x")

    n = args.appenders
    row(f"appends/s, {n} appenders, one shared client", ours.shared_rate, "rate", "", True)
    row(f"appends/s, {n} appenders, a client each", ours.separate_rate, "rate", "", True)
    row("latency p50, one in flight", ours.p50_ms, "p50", " ms", False)
    row("latency p99, one in flight", ours.p99_ms, "p99", " ms", False)
    console.print(table)
    console.print("ratio > 1 means eventraft is better (more appends/s, or lower latency).")


if __name__ == "__main__":
    main()
