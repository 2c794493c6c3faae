"""The suite's figures in one process: (b) durable saves, (c) loading an aggregate, (d)
projection catch-up; eventraft's embedded store beside the ``eventsourcing`` library on SQLite
and on PostgreSQL. Each function returns a flat dict of floats."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import peer_eventsourcing
import peer_postgres
from bench_projections import LmdbTotals, SqliteTotals, catch_up, fill

from aggregates import Repository, every, never
from eventlog import NewEvent, open_embedded

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # examples/ is a directory of the repository, not an installed package
    sys.path.insert(0, ROOT)
from examples.bank import Account  # noqa: E402

PAYLOAD = b"x" * 100


# -- (b) durable single-event saves ---------------------------------------------------------
def eventraft_saves(seconds: float) -> dict[str, float]:
    return {f"threads{n}": _embedded_saves(n, seconds) for n in (1, 16)}


def _embedded_saves(threads: int, seconds: float) -> float:
    """Single-event appends/s with expected versions, each thread on its own stream."""
    with tempfile.TemporaryDirectory() as tmp, open_embedded(Path(tmp) / "store") as store:
        done = [0] * threads
        deadline = time.monotonic() + seconds

        def save(n: int) -> None:
            events = [NewEvent("Bench", PAYLOAD)]
            version = -1  # NO_STREAM, then each append expects the last
            while time.monotonic() < deadline:
                store.append(f"saves-{n}", events, expected_version=version)
                version = version + 2 if version < 0 else version + 1
                done[n] += 1

        return peer_eventsourcing.threads_rate(save, threads, done)


@contextlib.contextmanager
def eventsourcing_env(database: str) -> Iterator[dict[str, str]]:
    """The library's settings for a fresh database: a SQLite file, or a PostgreSQL server."""
    if database == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/es.db"}
        return
    with peer_postgres.postgres_server() as server:
        yield server.environment()


def eventsourcing_saves_sqlite(seconds: float) -> dict[str, float]:
    return eventsourcing_saves("sqlite", seconds)


def eventsourcing_saves_postgres(seconds: float) -> dict[str, float]:
    return eventsourcing_saves("postgres", seconds)


def eventsourcing_saves(database: str, seconds: float) -> dict[str, float]:
    figures = {}
    for threads in (1, 16):
        with eventsourcing_env(database) as env:
            figures[f"threads{threads}"] = peer_eventsourcing.saves(env, threads, seconds)
    return figures


# -- (c) loading an aggregate ---------------------------------------------------------------
def eventraft_loads(events: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, open_embedded(Path(tmp) / "store") as store:
        snapshots = Repository(store, snapshots={Account: every(events)})
        replaying = Repository(store, snapshots={Account: never})
        account = Account.open("bench", id=str(uuid.uuid4()))
        while account.version < events:
            for _ in range(min(500, events - account.version)):
                account.deposit(1)
            snapshots.save(account)  # the save that reaches ``events`` takes the snapshot
        replay = _median_ms(lambda: replaying.get(Account, account.id), repeat)
        snapshot = _median_ms(lambda: snapshots.get(Account, account.id), repeat)
        assert replaying.get(Account, account.id) == snapshots.get(Account, account.id)
    return {"replay_ms": replay, "snapshot_ms": snapshot}


def eventsourcing_loads(events: int, repeat: int) -> dict[str, float]:
    with eventsourcing_env("sqlite") as env:
        return peer_eventsourcing.loads(env, events, repeat)


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


# -- (d) projection catch-up ----------------------------------------------------------------
def eventraft_catch_up(events: int) -> dict[str, float]:
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with open_embedded(directory / "store", sync=False) as store:
            fill(store, events)
            for key, projection, target in (
                ("sqlite", SqliteTotals(), directory / "totals.db"),
                ("lmdb", LmdbTotals(), directory / "totals.lmdb"),
            ):
                figures[key] = asyncio.run(catch_up(store, projection, target))  # type: ignore[arg-type]
    return figures


def eventsourcing_catch_up(events: int) -> dict[str, float]:
    with eventsourcing_env("sqlite") as env, tempfile.TemporaryDirectory() as tmp:
        return {"sqlite": peer_eventsourcing.follow(env, events, Path(tmp) / "totals.db")}
