"""Adding a learner to a cluster that holds many events, both ways, in one run: a copy of the
leader's store (``node --join``, the default) against the whole log entry by entry
(``--catch-up entries``).

    .venv/bin/python benchmarks/bench_join.py [--events 1000000] [--event-bytes 100] [--runs 3]

Not a test: it prints figures. A local 3-node cluster (fsync on) is filled with appends of
1,000 events, then a learner is added and started each way, one after the other; each is
timed from its start until the leader reports it 0 entries behind, and its digest is checked
against the leader's. The ratio is entries / copy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from eventlog import AsyncClient, NewEvent
from eventraft.localcluster import LocalCluster, local_cluster, wait_for

BATCH = 1_000


async def fill(cluster: LocalCluster, events: int, size: int) -> float:
    async with AsyncClient(cluster.addresses, timeout=60) as client:
        started = time.monotonic()
        payload = os.urandom(size)
        in_flight = 8

        async def writer(first: int) -> None:
            for batch in range(first, events // BATCH, in_flight):
                await client.append(
                    f"stream-{batch % 1000}", [NewEvent("Filled", payload) for _ in range(BATCH)]
                )

        await asyncio.gather(*(writer(n) for n in range(in_flight)))
        return time.monotonic() - started


def join(cluster: LocalCluster, node_id: int, root: Path, catch_up: str) -> dict[str, Any]:
    node = cluster.joining(node_id, root, "--catch-up", catch_up)
    with cluster.client(timeout=60) as client:
        client.add_member(node_id, node.address)
        started = time.monotonic()
        node.start()

        def behind() -> bool:
            return any(m.id == node_id and m.lag == 0 for m in client.members())

        wait_for(behind, 3600, f"node {node_id} to catch up")
        seconds = time.monotonic() - started
        leader = cluster.leader(timeout=30)
        converged = wait_for(
            lambda: cluster.status(node_id).digest == cluster.status(leader).digest or None,
            120,
            "the same digest",
        )
        assert converged
        client.remove_member(node_id)  # the next join finds the same cluster of three
    node.kill()
    size = sum(f.stat().st_size for f in node.data_dir.iterdir() if f.is_file())
    return {"catch_up": catch_up, "seconds": round(seconds, 2), "store_mib": size >> 20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--event-bytes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="Joins each way (the median).")
    parser.add_argument("--json", type=Path, help="Write the figures here too.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, local_cluster(Path(directory)) as cluster:
        cluster.leader(timeout=30)
        filled = asyncio.run(fill(cluster, args.events, args.event_bytes))
        runs: dict[str, list[dict[str, Any]]] = {"copy": [], "entries": []}
        node_ids = iter(range(4, 4 + 2 * args.runs))
        for _ in range(args.runs):
            for catch_up in runs:
                runs[catch_up].append(join(cluster, next(node_ids), Path(directory), catch_up))
    seconds = {way: sorted(row["seconds"] for row in rows) for way, rows in runs.items()}
    median = {way: statistics.median(values) for way, values in seconds.items()}
    table = Table(
        title=f"adding a learner to a cluster of {args.events:,} events ({args.runs} runs)"
    )
    for column in ("catch-up", "median s to 0 behind", "min", "max", "store MiB", "ratio to copy"):
        table.add_column(column)
    for way, values in seconds.items():
        ratio = median[way] / median["copy"]
        store = runs[way][-1]["store_mib"]
        table.add_row(
            way,
            f"{median[way]:.2f}",
            f"{values[0]:.2f}",
            f"{values[-1]:.2f}",
            str(store),
            f"{ratio:.1f}",
        )
    console = Console()
    console.print(f"filled in {filled:.1f}s ({args.events / filled:,.0f} events/s)")
    console.print(table)
    if args.json:
        figures = {
            "events": args.events,
            "runs": runs,
            "entries_over_copy": median["entries"] / median["copy"],
        }
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
