"""Events and projections the projection tests run, in-process and in worker processes
(``python -m eventraft project tests.projections.sample:Totals ...``).

The read model records every position it applies in a table keyed by position, so applying
an event twice fails loudly (a primary-key violation) instead of passing unnoticed.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable
from pathlib import Path

import attrs
import lmdb

from aggregates import Codec, DomainEvent, Envelope, Registry
from aggregates.events import PendingEvent, new_meta
from eventlog import NewEvent, RecordedEvent
from projections import LmdbProjection, LmdbWriter, SqliteProjection, handles, handles_raw

REGISTRY = Registry()
CODEC = Codec(REGISTRY)


@REGISTRY.event("Deposited")
@attrs.frozen
class Deposited(DomainEvent):
    amount: int


@REGISTRY.event("Withdrawn")
@attrs.frozen
class Withdrawn(DomainEvent):
    amount: int


@REGISTRY.event("Flaky")
@attrs.frozen
class Flaky(DomainEvent):
    """Its handler raises when ``fail`` is set: a poison event."""

    fail: bool


def encode(event: DomainEvent) -> NewEvent:
    return CODEC.encode(PendingEvent(event, new_meta()))


def deposits(count: int, *, amount: int = 1) -> list[NewEvent]:
    return [encode(Deposited(amount=amount)) for _ in range(count)]


class HandlerFailed(Exception):
    pass


class Totals(SqliteProjection):
    name = "totals"
    registry = REGISTRY
    schema = (
        "CREATE TABLE IF NOT EXISTS applied (position INTEGER PRIMARY KEY, stream TEXT)",
        "CREATE TABLE IF NOT EXISTS totals"
        " (stream TEXT PRIMARY KEY, balance INTEGER NOT NULL, events INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS notes (position INTEGER PRIMARY KEY, note TEXT)",
    )

    def _add(self, db: sqlite3.Connection, at: Envelope, amount: int) -> None:
        db.execute("INSERT INTO applied VALUES (?, ?)", (at.position, at.stream))
        db.execute(
            "INSERT INTO totals VALUES (?, ?, 1) ON CONFLICT (stream) DO UPDATE"
            " SET balance = balance + excluded.balance, events = events + 1",
            (at.stream, amount),
        )

    @handles(Deposited)
    def deposited(self, db: sqlite3.Connection, event: Deposited, at: Envelope) -> None:
        self._add(db, at, event.amount)

    @handles("Withdrawn")
    def withdrawn(self, db: sqlite3.Connection, event: Withdrawn, at: Envelope) -> None:
        self._add(db, at, -event.amount)

    @handles(Flaky)
    def flaky(self, db: sqlite3.Connection, event: Flaky, at: Envelope) -> None:
        db.execute("INSERT INTO applied VALUES (?, ?)", (at.position, at.stream))
        if event.fail:
            raise HandlerFailed(f"flaky event at {at.position}")

    @handles_raw("Note")
    def note(self, db: sqlite3.Connection, recorded: RecordedEvent) -> None:
        db.execute("INSERT INTO notes VALUES (?, ?)", (recorded.position, recorded.data.decode()))


class TotalsTwo(Totals):
    name = "totals-two"


class TotalsThree(Totals):
    name = "totals-three"


class TotalsFour(Totals):
    name = "totals-four"


class TotalsFive(Totals):
    name = "totals-five"


class TotalsSix(Totals):
    name = "totals-six"


class TotalsSeven(Totals):
    name = "totals-seven"


class TotalsOnALearner(Totals):
    name = "totals-on-a-learner"


_Q = struct.Struct(">Q")


class LmdbTotals(LmdbProjection):
    name = "lmdb-totals"
    registry = REGISTRY
    databases = ("applied", "totals")

    def _add(self, db: LmdbWriter, at: Envelope, amount: int) -> None:
        key = _Q.pack(at.position)
        if db.get("applied", key) is not None:
            raise AssertionError(f"position {at.position} applied twice")
        db.put("applied", key, at.stream.encode())
        raw = db.get("totals", at.stream.encode())
        balance, events = (0, 0) if raw is None else struct.unpack(">qq", raw)
        db.put("totals", at.stream.encode(), struct.pack(">qq", balance + amount, events + 1))

    @handles(Deposited)
    def deposited(self, db: LmdbWriter, event: Deposited, at: Envelope) -> None:
        self._add(db, at, event.amount)

    @handles(Withdrawn)
    def withdrawn(self, db: LmdbWriter, event: Withdrawn, at: Envelope) -> None:
        self._add(db, at, -event.amount)


@attrs.frozen
class Model:
    """A read model as plain values, to compare two of them."""

    checkpoint: int
    applied: tuple[int, ...]
    totals: dict[str, tuple[int, int]]


def sqlite_model(path: Path) -> Model:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (checkpoint,) = db.execute("SELECT position FROM _projection_checkpoint").fetchone()
        applied = tuple(p for (p,) in db.execute("SELECT position FROM applied ORDER BY 1"))
        totals = {s: (b, n) for s, b, n in db.execute("SELECT * FROM totals")}
    finally:
        db.close()
    return Model(checkpoint=checkpoint, applied=applied, totals=totals)


def sqlite_checkpoint(path: Path) -> int:
    """The stored checkpoint, or -1 while the target does not exist yet."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return -1
    try:
        row = db.execute("SELECT position FROM _projection_checkpoint").fetchone()
    except sqlite3.Error:
        return -1
    finally:
        db.close()
    return -1 if row is None else int(row[0])


def sqlite_token(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT token FROM _projection_checkpoint").fetchone()[0])
    finally:
        db.close()


def lmdb_model(path: Path) -> Model:
    env = lmdb.open(str(path), readonly=True, lock=False, max_dbs=8)
    try:
        with env.begin() as txn:
            meta = env.open_db(b"_projection_meta", txn=txn, create=False)
            raw = txn.get(b"position", db=meta)
            applied_db = env.open_db(b"applied", txn=txn, create=False)
            totals_db = env.open_db(b"totals", txn=txn, create=False)
            applied = tuple(_Q.unpack(k)[0] for k, _ in txn.cursor(db=applied_db))
            totals = {
                bytes(k).decode(): struct.unpack(">qq", v) for k, v in txn.cursor(db=totals_db)
            }
    finally:
        env.close()
    return Model(checkpoint=0 if raw is None else _Q.unpack(raw)[0], applied=applied, totals=totals)


def expected_totals(events: Iterable[RecordedEvent]) -> dict[str, tuple[int, int]]:
    """What ``Totals`` should hold after ``events`` (decoded with the sample codec)."""
    totals: dict[str, tuple[int, int]] = {}
    for recorded in events:
        if recorded.type not in ("Deposited", "Withdrawn"):
            continue
        event = CODEC.decode(recorded).event
        assert isinstance(event, Deposited | Withdrawn)
        amount = event.amount if isinstance(event, Deposited) else -event.amount
        balance, count = totals.get(recorded.stream, (0, 0))
        totals[recorded.stream] = (balance + amount, count + 1)
    return totals
