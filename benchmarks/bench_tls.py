"""The cost of TLS and authentication: the same local 3-node cluster (fsync on, clients over
TCP) run with ``--insecure``, with TLS on every link and the clients signed in by the admin
certificate, and with TLS and the clients signed in by password as a user whose own role
allows writes to ``bench-*`` only (every append checked against the prefix), one after the
other in one run.

    .venv/bin/python benchmarks/bench_tls.py [--seconds 10] [--appenders 64] [--runs 3]

Not a test: it prints figures and ratios (over plaintext), each the median of ``--runs``
with min and max: committed appends/s with N appenders in flight (one shared client, and a
client each), and p50/p99 latency with one append in flight. Events are 100 bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

from eventraft.bench import measure
from eventraft.localcluster import LocalCluster, environment, local_cluster, tls_environment

MEASURES = (
    ("shared_rate", "appends/s, {n} appenders, one shared client", True),
    ("separate_rate", "appends/s, {n} appenders, a client each", True),
    ("p50_ms", "latency p50 ms, one in flight", False),
    ("p99_ms", "latency p99 ms, one in flight", False),
)


WAYS = {
    "insecure": "--insecure",
    "tls": "TLS, certificate",
    "password": "TLS, password, prefix role",
}


def once(way: str, seconds: float, appenders: int, samples: int) -> dict[str, float]:
    tls = way != "insecure"
    with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp), tls=tls) as cluster:
        cluster.leader(timeout=20)
        if way == "insecure":
            signed_in: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        elif way == "tls":
            signed_in = tls_environment(cluster.tls)
        else:
            signed_in = _password_user(cluster, Path(tmp))
        with signed_in:
            figures = measure(
                cluster.addresses, appenders=appenders, seconds=seconds, samples=samples
            )
    return attrs.asdict(figures)


@contextlib.contextmanager
def _password_user(cluster: LocalCluster, tmp: Path) -> Iterator[None]:
    """Clients signed in as ``bench`` by password (``EVENTRAFT_USER``), with a role of its
    own: read and write on ``bench-``."""
    with cluster.client(timeout=30) as admin:
        admin.add_role("bencher", [("read", "bench-"), ("write", "bench-")])
        admin.add_user("bench", "bench password", ["bencher"])
    (tmp / "bench.password").write_text("bench password")
    assert cluster.tls is not None
    with environment(
        {
            "EVENTRAFT_TLS_CA": cluster.tls.ca,
            "EVENTRAFT_USER": "bench",
            "EVENTRAFT_PASSWORD_FILE": str(tmp / "bench.password"),
        }
    ):
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--appenders", type=int, default=64)
    parser.add_argument("--latency-samples", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="Write the figures here too.")
    args = parser.parse_args()
    console = Console()
    runs: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    for run in range(args.runs):
        for way in runs:  # in turns, so drift of the machine falls on each
            with console.status(f"run {run + 1}/{args.runs}: {WAYS[way]}"):
                runs[way].append(once(way, args.seconds, args.appenders, args.latency_samples))
    table = Table(title=f"TLS and sign-in vs --insecure, 3 nodes, fsync on ({args.runs} runs)")
    columns = [f"{label} (median, min-max)" for label in WAYS.values()]
    for column in ("measure", *columns, "TLS / insecure", "password / insecure"):
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
        password = medians["password"] / medians["insecure"]
        summary[key] = {**medians, "tls_over_insecure": ratio, "password_over_insecure": password}
        table.add_row(label.format(n=args.appenders), *cells, f"{ratio:.2f}", f"{password:.2f}")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
