"""The ``eventsourcing`` library (9.x) measured in the same shapes as eventraft: durable
single-event saves from threads, loading an aggregate with a long history, and following the
notification log with its decoding.

Each function takes the library's environment (``PERSISTENCE_MODULE`` and its settings), so
one function serves SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAYLOAD = b"x" * 100


def installed() -> bool:
    try:
        import eventsourcing  # noqa: F401
    except ImportError:
        return False
    return True


def saves(env: dict[str, str], threads: int, seconds: float) -> float:
    """Single-event inserts/s, each thread appending to its own aggregate with the next
    version, as an aggregate's save does: the recorder checks the version is free."""
    from eventsourcing.persistence import InfrastructureFactory, StoredEvent

    factory = InfrastructureFactory.construct(env={"POSTGRES_POOL_SIZE": str(threads), **env})
    recorder = factory.application_recorder()
    done = [0] * threads
    deadline = time.monotonic() + seconds

    def save(n: int) -> None:
        originator = uuid.uuid4()
        version = 1
        while time.monotonic() < deadline:
            recorder.insert_events([StoredEvent(originator, version, "bench:Bench", PAYLOAD)])
            version += 1
            done[n] += 1

    rate = threads_rate(save, threads, done)
    factory.close()
    return rate


def threads_rate(work: Callable[[int], None], threads: int, done: list[int]) -> float:
    """Run ``work(n)`` in ``threads`` threads at once; what they counted in ``done``, per
    second. eventraft's saves are measured with it too."""
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.monotonic() - started)


@functools.cache
def _bank() -> Any:
    """The application and aggregate, defined only once the library is known to be there."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Account(Aggregate):
        @event("Opened")
        def __init__(self, owner: str) -> None:
            self.owner = owner
            self.balance = 0

        @event("Deposited")
        def deposit(self, amount: int) -> None:
            self.balance += amount

    class Bank(Application[uuid.UUID]):
        pass

    return Bank, Account


def loads(env: dict[str, str], events: int, repeat: int) -> dict[str, float]:
    """Milliseconds to get an ``Account`` of ``events`` events: by replay, and from a
    snapshot at its last event (the median of ``repeat`` loads each)."""
    bank_class, account_class = _bank()
    bank = bank_class(env={"IS_SNAPSHOTTING_ENABLED": "y", **env})
    account = account_class("bench")
    while account.version < events:
        for _ in range(min(500, events - account.version)):
            account.deposit(1)
        bank.save(account)
    replay = _median_ms(lambda: bank.repository.get(account.id), repeat)
    bank.take_snapshot(account.id)
    snapshot = _median_ms(lambda: bank.repository.get(account.id), repeat)
    assert bank.repository.get(account.id).balance == events - 1
    bank.close()
    return {"replay_ms": replay, "snapshot_ms": snapshot}


def follow(env: dict[str, str], events: int, target: Path) -> float:
    """Events/s of a follower reading the notification log from the start, decoding each
    notification into a domain event and upserting a balance into SQLite, one commit (with
    its position) per page, as eventraft's catch-up does."""
    bank_class, account_class = _bank()
    bank = bank_class(env=env)
    accounts = [account_class(f"owner-{n}") for n in range(100)]
    bank.save(*accounts)
    while True:
        written = bank.recorder.max_notification_id() or 0
        if written >= events:
            break
        for account in accounts:
            for _ in range(10):
                account.deposit(1)
        bank.save(*accounts)
    db = sqlite3.connect(target)
    db.execute("CREATE TABLE total (id TEXT PRIMARY KEY, balance INTEGER, events INTEGER)")
    db.execute("CREATE TABLE tracking (name TEXT PRIMARY KEY, position INTEGER)")
    db.commit()
    started = time.perf_counter()
    position, count = 0, 0
    while True:
        page = bank.recorder.select_notifications(position + 1, 2000)
        if not page:
            break
        for notification in page:
            domain_event = bank.mapper.to_domain_event(notification)
            amount = getattr(domain_event, "amount", 0)
            db.execute(
                "INSERT INTO total VALUES (?, ?, 1) ON CONFLICT (id) DO UPDATE"
                " SET balance = balance + excluded.balance, events = events + 1",
                (str(domain_event.originator_id), amount),
            )
        position = page[-1].id
        count += len(page)
        db.execute("INSERT OR REPLACE INTO tracking VALUES ('bench', ?)", (position,))
        db.commit()
    rate = count / (time.perf_counter() - started)
    db.close()
    bank.close()
    return rate


def _median_ms(action: Any, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return samples[len(samples) // 2]


def notification_reads(env: dict[str, str], events: int, page: int = 1000) -> float:
    """Notifications/s of a reader of the whole notification log, a page at a time, as a
    follower pulls it (undecoded: what the recorder itself costs)."""
    bank_class, account_class = _bank()
    bank = bank_class(env=env)
    accounts = [account_class(f"owner-{n}") for n in range(100)]
    bank.save(*accounts)
    while (bank.recorder.max_notification_id() or 0) < events:
        for account in accounts:
            for _ in range(10):
                account.deposit(1)
        bank.save(*accounts)
    started = time.perf_counter()
    start, count = 1, 0
    while notifications := bank.recorder.select_notifications(start, page):
        count += len(notifications)
        start = notifications[-1].id + 1
    rate = count / (time.perf_counter() - started)
    bank.close()
    return rate
