"""The domain layer's costs on the embedded store and a local 3-node cluster (fsync on).

    .venv/bin/python benchmarks/bench_aggregates.py [--events 10000] [--saves 500]

Not a test: it prints figures. (1) Loading a bank ``Account`` with 10,000 events: by full
replay, from a snapshot at its last event, and as of version 9,999 (the snapshot at 9,000
plus 999 events); each the median of ``--loads`` loads. (2) Saving single-event commands
(a deposit, then ``save``) one after another: p50/p99 latency. (3) On the cluster, the same
commands from ``--writers`` concurrent writers, each on its own account, through
``AsyncRepository``: commands per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console
from rich.table import Table

from aggregates import AsyncRepository, Repository, every, never
from eventlog import AsyncClient, open_embedded
from eventraft.localcluster import local_cluster

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # examples/ is a directory of the repository, not an installed package
    sys.path.insert(0, ROOT)
from examples.bank import Account  # noqa: E402

SNAPSHOT_EVERY = 1000
BATCH = 500
"""Events per save while building the long history."""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def median_time(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def build_history(repository: Repository, events: int) -> str:
    account = Account.open("bench", id=str(uuid.uuid4()))
    while account.version < events:
        for _ in range(min(BATCH, events - account.version)):
            account.deposit(1)
        repository.save(account)
    return account.id


def loads(store: Any, events: int, repeat: int) -> dict[str, str]:
    with_snapshots = Repository(store, snapshots={Account: every(SNAPSHOT_EVERY)})
    replaying = Repository(store, snapshots={Account: never})
    account_id = build_history(with_snapshots, events)
    assert replaying.get(Account, account_id) == with_snapshots.get(Account, account_id)
    return {
        f"load {events:,} events, full replay": ms(
            median_time(lambda: replaying.get(Account, account_id), repeat)
        ),
        f"load {events:,} events, snapshot at the last": ms(
            median_time(lambda: with_snapshots.get(Account, account_id), repeat)
        ),
        f"load as of {events - 1:,}, snapshot {SNAPSHOT_EVERY - 1} back": ms(
            median_time(lambda: with_snapshots.get(Account, account_id, version=events - 1), repeat)
        ),
    }


def saves(store: Any, count: int) -> dict[str, str]:
    repository = Repository(store, snapshots={Account: never})
    account = Account.open("bench", id=str(uuid.uuid4()))
    repository.save(account)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        account.deposit(1)
        repository.save(account)
        samples.append(time.perf_counter() - started)
    quantiles = statistics.quantiles(samples, n=100)
    return {
        "save 1-event command, p50": ms(quantiles[49]),
        "save 1-event command, p99": ms(quantiles[98]),
        "sequential commands/s": f"{count / sum(samples):,.0f}",
    }


async def concurrent_saves(addresses: str, writers: int, seconds: float) -> float:
    done = 0
    deadline = time.monotonic() + seconds

    async def writer() -> None:
        nonlocal done
        async with AsyncClient(addresses, timeout=30) as client:
            repository = AsyncRepository(client, snapshots={Account: never})
            account = Account.open("bench", id=str(uuid.uuid4()))
            await repository.save(account)
            while time.monotonic() < deadline:
                account.deposit(1)
                await repository.save(account)
                done += 1

    started = time.monotonic()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return done / (time.monotonic() - started)


def run(coroutine: Any) -> Any:
    """The same event loop the nodes use: uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def measure(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        with open_embedded(Path(tmp) / "embedded") as store:
            embedded = loads(store, args.events, args.loads) | saves(store, args.saves)
        (Path(tmp) / "cluster").mkdir()
        with local_cluster(Path(tmp) / "cluster") as cluster:
            cluster.leader(timeout=20)
            with cluster.client(timeout=30) as client:
                clustered = loads(client, args.events, args.loads) | saves(client, args.saves)
            rate = run(concurrent_saves(cluster.addresses, args.writers, args.seconds))
            clustered[f"{args.writers} concurrent writers, commands/s"] = f"{rate:,.0f}"
    return embedded, clustered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=7, help="loads per figure (median)")
    parser.add_argument("--saves", type=int, default=500)
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    embedded, clustered = measure(args)
    table = Table(
        title=f"aggregates: bank Account, fsync on, {os.cpu_count()} cores, "
        f"Python {platform.python_version()} ({sys.platform})"
    )
    table.add_column("measure")
    table.add_column("embedded", justify="right")
    table.add_column("3-node cluster", justify="right")
    for name in clustered:
        table.add_row(name, embedded.get(name, "-"), clustered[name])
    Console().print(table)


if __name__ == "__main__":
    main()
