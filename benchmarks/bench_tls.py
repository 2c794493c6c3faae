"""The cost of TLS: the same local 3-node cluster (fsync on, clients over TCP) run with
``--insecure`` and with TLS on every link, one after the other in one run.

    .venv/bin/python benchmarks/bench_tls.py [--seconds 10] [--appenders 64] [--runs 3]

Not a test: it prints figures and ratios (TLS over plaintext), each the median of ``--runs``
with min and max: committed appends/s with N appenders in flight (one shared client, and a
client each), and p50/p99 latency with one append in flight. Events are 100 bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

from eventraft.bench import measure
from eventraft.localcluster import local_cluster, tls_environment

MEASURES = (
    ("shared_rate", "appends/s, {n} appenders, one shared client", True),
    ("separate_rate", "appends/s, {n} appenders, a client each", True),
    ("p50_ms", "latency p50 ms, one in flight", False),
    ("p99_ms", "latency p99 ms, one in flight", False),
)


def once(tls: bool, seconds: float, appenders: int, samples: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp), tls=tls) as cluster:
        cluster.leader(timeout=20)
        with tls_environment(cluster.tls) if tls else contextlib.nullcontext():
            figures = measure(
                cluster.addresses, appenders=appenders, seconds=seconds, samples=samples
            )
    return attrs.asdict(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--appenders", type=int, default=64)
    parser.add_argument("--latency-samples", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="Write the figures here too.")
    args = parser.parse_args()
    console = Console()
    runs: dict[str, list[dict[str, float]]] = {"insecure": [], "tls": []}
    for run in range(args.runs):
        for way in runs:  # alternate, so drift of the machine falls on both
            with console.status(f"run {run + 1}/{args.runs}: {way}"):
                runs[way].append(
                    once(way == "tls", args.seconds, args.appenders, args.latency_samples)
                )
    table = Table(title=f"TLS on every link vs --insecure, 3 nodes, fsync on ({args.runs} runs)")
    for column in (
        "measure",
        "--insecure (median, min-max)",
        "TLS (median, min-max)",
        "TLS / insecure",
    ):
        table.add_column(column, justify="left" if column == "measure" else "right")
    summary: dict[str, Any] = {}
    for key, label, _ in MEASURES:
        cells = []
        medians = {}
        for way, rows in runs.items():
            values = sorted(row[key] for row in rows)
            medians[way] = statistics.median(values)
            cells.append(f"{medians[way]:,.2f} ({values[0]:,.2f}-{values[-1]:,.2f})")
        ratio = medians["tls"] / medians["insecure"]
        summary[key] = {**medians, "tls_over_insecure": ratio}
        table.add_row(label.format(n=args.appenders), *cells, f"{ratio:.2f}")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
