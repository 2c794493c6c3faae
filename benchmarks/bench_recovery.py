"""How long a store with many events takes to reopen and serve: the indexes and the applied
index are on disk, so the time must not grow with history.

    .venv/bin/python benchmarks/bench_recovery.py [--events 1000000]

Not a test: it prints figures. Writes the events through an embedded store without fsync (in
batches of 1,000), closes it, then times opening it again with fsync on up to the first answers
of ``status``, ``read_all`` at the end of the log and ``read_stream_backwards``.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from rich.console import Console
from rich.table import Table

from eventlog import NewEvent, open_embedded

BATCH = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    batches = max(1, args.events // BATCH)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with open_embedded(f"{tmp}/store", sync=False) as store:
            for n in range(batches):
                store.append(f"stream-{n % 100}", [NewEvent("Bench", b"x" * 100)] * BATCH)
        written = time.perf_counter() - started
        started = time.perf_counter()
        with open_embedded(f"{tmp}/store") as store:
            last = store.status().last_position
            tail = store.read_all(last, 1)
            newest = store.read_stream_backwards("stream-7", limit=1)
            served = time.perf_counter() - started
        assert tail and tail[0].position == last == batches * BATCH and newest
    table = Table(title=f"{last:,} events of 100 bytes in one embedded store")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("write (no fsync, 1,000 events per append)", f"{written:.1f} s")
    table.add_row(
        "reopen and answer status, read_all, read_stream_backwards", f"{served * 1000:.0f} ms"
    )
    Console().print(table)


if __name__ == "__main__":
    main()
