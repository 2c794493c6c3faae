"""Projection figures: catch-up rate into SQLite and LMDB, and live lag behind a cluster.

    .venv/bin/python benchmarks/bench_projections.py [--events 1000000] [--lag-seconds 10]
        [--lag-rate 1000] [--lease-ttl 5]

Not a test: it prints figures.

- Catch-up: ``--events`` events (100 accounts, 1,000-event appends) are written to an embedded
  store without fsync; then a worker in this process catches up from position 1 into a fresh
  SQLite database and a fresh LMDB environment. Events/s counts every event from the worker's
  start to its checkpoint reaching the end: reads, decoding through the aggregates codec, one
  upsert per event, and one commit per batch (the worker's default 2,000 events).
- Live lag: a 3-node cluster (``--unsafe-no-fsync``), a worker process following it into
  SQLite, and appenders committing ``--lag-rate`` single-event appends per second. Each
  event's lag runs from the moment its append was acknowledged (it is committed) to the
  moment a reader of the SQLite file sees its checkpoint, polled every millisecond.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import attrs
import structlog
from rich.console import Console
from rich.table import Table

from aggregates import Codec, DomainEvent, Envelope, Registry
from aggregates.events import PendingEvent, new_meta
from eventlog import Client, EmbeddedStore, NewEvent, open_embedded
from eventraft.localcluster import local_cluster, wait_for
from projections import (
    EmbeddedSource,
    LmdbProjection,
    LmdbWriter,
    Projection,
    SqliteProjection,
    Worker,
    WorkerConfig,
    handles,
)

BENCH = Registry()
CODEC = Codec(BENCH)
ACCOUNTS = 100
APPEND_BATCH = 1000


@BENCH.event("Credited")
@attrs.frozen
class Credited(DomainEvent):
    amount: int


class SqliteTotals(SqliteProjection):
    name = "bench-sqlite"
    registry = BENCH
    schema = (
        "CREATE TABLE IF NOT EXISTS total"
        " (stream TEXT PRIMARY KEY, balance INTEGER NOT NULL, events INTEGER NOT NULL)",
    )

    @handles(Credited)
    def credited(self, db: sqlite3.Connection, event: Credited, at: Envelope) -> None:
        db.execute(
            "INSERT INTO total VALUES (?, ?, 1) ON CONFLICT (stream) DO UPDATE"
            " SET balance = balance + excluded.balance, events = events + 1",
            (at.stream, event.amount),
        )


class LmdbTotals(LmdbProjection):
    name = "bench-lmdb"
    registry = BENCH
    databases = ("total",)

    @handles(Credited)
    def credited(self, db: LmdbWriter, event: Credited, at: Envelope) -> None:
        key = at.stream.encode()
        raw = db.get("total", key)
        balance, events = (0, 0) if raw is None else struct.unpack(">qq", raw)
        db.put("total", key, struct.pack(">qq", balance + event.amount, events + 1))


def credits(count: int) -> list[NewEvent]:
    return [CODEC.encode(PendingEvent(Credited(amount=n % 97), new_meta())) for n in range(count)]


def fill(store: EmbeddedStore, events: int) -> float:
    """Append ``events`` in 1,000-event appends over ``ACCOUNTS`` streams; events/s."""
    batch, started = credits(APPEND_BATCH), time.perf_counter()
    for n in range(events // APPEND_BATCH):
        store.append(f"Account-{n % ACCOUNTS}", batch)
    return events / (time.perf_counter() - started)


async def catch_up(store: EmbeddedStore, projection: Projection[object], target: Path) -> float:
    """Events/s of a worker catching up from position 1 to the end of the store."""
    last, stop = int(store.status().last_position), asyncio.Event()
    source = EmbeddedSource(store)
    worker = Worker(projection, source, target, WorkerConfig(report_every=3600))
    started = time.perf_counter()
    running = asyncio.create_task(worker.run(stop))
    while worker.keeper.checkpoint < last and not running.done():
        await asyncio.sleep(0.005)
    seconds = time.perf_counter() - started
    stop.set()
    await running
    await source.close()
    return last / seconds


# -- live lag --------------------------------------------------------------------------------
@attrs.define
class Acks:
    """When each position was acknowledged to its appender (perf_counter seconds)."""

    at: dict[int, float] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)


def append_steadily(addresses: str, rate: float, seconds: float, acks: Acks) -> None:
    """One appender at ``rate`` single-event appends per second, on a fixed schedule."""
    events = credits(256)
    with Client(addresses) as client:
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            due = start + n / rate
            if (ahead := due - time.perf_counter()) > 0:
                time.sleep(ahead)
            result = client.append(f"Account-{n % ACCOUNTS}", [events[n % len(events)]])
            with acks.lock:
                acks.at[result.last_position] = time.perf_counter()


def watch_checkpoint(path: Path, stop: threading.Event, seen: list[tuple[int, float]]) -> None:
    """Add (checkpoint, first time seen) each time a reader sees it move, polling every ms."""
    wait_for(lambda: sqlite_checkpoint(path) >= 0, 30, "the worker's target")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        while not stop.is_set():
            row = db.execute("SELECT position FROM _projection_checkpoint").fetchone()
            if row is not None and (not seen or row[0] > seen[-1][0]):
                seen.append((row[0], time.perf_counter()))
            time.sleep(0.001)
    finally:
        db.close()


def sqlite_checkpoint(path: Path) -> int:
    """The target's checkpoint, or -1 while it is not there yet."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT position FROM _projection_checkpoint").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return -1
    return -1 if row is None else int(row[0])


def warm_up(addresses: str, target: Path) -> None:
    """Measure from a worker already following: one event, applied, before the load."""
    with Client(addresses) as client:
        position = client.append("Account-0", credits(1)).last_position
    wait_for(lambda: sqlite_checkpoint(target) >= position, 30, "the worker to follow")


def lags(acks: Acks, seen: list[tuple[int, float]]) -> list[float]:
    lag, index = [], 0
    for position, acked in sorted(acks.at.items()):
        while index < len(seen) and seen[index][0] < position:
            index += 1
        if index < len(seen):
            lag.append(max(0.0, seen[index][1] - acked))
    return sorted(lag)


def live_lag(
    directory: Path, rate: float, seconds: float, lease_ttl: float
) -> tuple[list[float], int]:
    target, acks, stop = directory / "lag.db", Acks(), threading.Event()
    (directory / "cluster").mkdir()
    with local_cluster(directory / "cluster", extra_args=("--unsafe-no-fsync",)) as cluster:
        cluster.leader(timeout=20)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
        worker = subprocess.Popen(
            [sys.executable, "-m", "eventraft", "--log-level", "warning", "project",
             "--cluster", cluster.addresses, "bench_projections:SqliteTotals",
             "--target", str(target), "--lease-ttl", str(lease_ttl)],
            env=env,
        )  # fmt: skip
        try:
            warm_up(cluster.addresses, target)
            seen: list[tuple[int, float]] = []
            watcher = threading.Thread(target=watch_checkpoint, args=(target, stop, seen))
            watcher.start()
            append_steadily(cluster.addresses, rate, seconds, acks)
            last = max(acks.at)
            wait_for(lambda: seen and seen[-1][0] >= last, 30, "the worker to catch up")
        finally:
            stop.set()
            worker.terminate()
            worker.wait(15)
        watcher.join()
    return lags(acks, seen), len(acks.at)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def add_lag_rows(table: Table, measured: list[float], count: int) -> None:
    for label, share in (("p50", 0.5), ("p99", 0.99)):
        value = percentile(measured, share) * 1000
        table.add_row(f"live lag {label} (commit -> read model)", f"{value:.1f} ms")
    table.add_row("live lag max", f"{measured[-1] * 1000:.1f} ms")
    table.add_row("live events measured", f"{len(measured):,} of {count:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--lag-seconds", type=float, default=10.0, help="0: skip the lag part")
    parser.add_argument("--lag-rate", type=float, default=1000.0)
    parser.add_argument("--lease-ttl", type=float, default=5.0, help="the lag worker's lease")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    console = Console()
    table = Table(title="eventraft projections")
    table.add_column("figure")
    table.add_column("value", justify="right")
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        with open_embedded(directory / "store", sync=False) as store:
            console.print(f"appending {args.events:,} events to an embedded store ...")
            table.add_row(
                "append (embedded, 1,000-event appends)",
                f"{fill(store, args.events):,.0f} events/s",
            )
            for label, projection, target in (
                ("catch-up into SQLite", SqliteTotals(), directory / "totals.db"),
                ("catch-up into LMDB", LmdbTotals(), directory / "totals.lmdb"),
            ):
                console.print(f"{label} ...")
                rate = asyncio.run(catch_up(store, projection, target))  # type: ignore[arg-type]
                table.add_row(f"{label} ({args.events:,} events)", f"{rate:,.0f} events/s")
        if args.lag_seconds > 0:
            console.print(
                f"live lag at {args.lag_rate:,.0f} appends/s for {args.lag_seconds:.0f}s ..."
            )
            measured, count = live_lag(directory, args.lag_rate, args.lag_seconds, args.lease_ttl)
            add_lag_rows(table, measured, count)
    console.print(table)


if __name__ == "__main__":
    main()
