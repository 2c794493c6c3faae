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
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from eventraft.bench import Figures, measure
from eventraft.localcluster import free_ports, local_cluster

PEER_SCRIPT = Path(__file__).with_name("peer_pysyncobj.py")


def measure_peer(seconds: float, appenders: int, samples: int) -> dict[str, float] | None:
    """Run three PySyncObj nodes; the leader measures and prints its figures."""
    try:
        import pysyncobj  # noqa: F401
    except ImportError:
        return None
    ports = free_ports(3)
    nodes = []
    try:
        for i, own in enumerate(ports):
            others = [str(p) for j, p in enumerate(ports) if j != i]
            args = [str(own), *others, str(seconds), str(appenders), str(samples)]
            nodes.append(
                subprocess.Popen(
                    [sys.executable, str(PEER_SCRIPT), *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )
        deadline = time.monotonic() + seconds + 120
        while time.monotonic() < deadline:
            for node in nodes:
                if node.poll() is not None and node.stdout is not None:
                    output = node.stdout.read().strip()
                    if output:
                        figures: dict[str, float] = json.loads(output.splitlines()[-1])
                        return figures
            time.sleep(0.2)
        raise SystemExit("the PySyncObj cluster produced no figures")
    finally:
        for node in nodes:
            node.kill()
            node.wait()


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
