"""A SQLite read model (stdlib ``sqlite3``): the handlers' writes, the checkpoint and the
fencing token commit in one SQLite transaction.

The database is in WAL mode, so applications read it while the worker writes, and
``synchronous=NORMAL``: a power loss may lose the last commits but never splits one, and a
lost commit only means its events are applied again, since its checkpoint is lost with it.

Handlers get the ``sqlite3.Connection`` inside the open transaction. An authorizer refuses
``BEGIN``/``COMMIT``/``ROLLBACK`` from them, since ending the transaction would commit writes
without their checkpoint.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import attrs

from projections.errors import CheckpointMoved, Fenced, TargetError
from projections.projection import Projection
from projections.target import Checkpoint, DeadLetter

CHECKPOINT_TABLE = "_projection_checkpoint"
DEAD_LETTER_TABLE = "_projection_dead_letters"
BUSY_TIMEOUT_MS = 30_000
_ENVIRONMENTAL = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)
"""Primary result codes that say the database or the machine failed, not the event."""
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} ("
    " projection TEXT PRIMARY KEY, position INTEGER NOT NULL, token INTEGER NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {DEAD_LETTER_TABLE} ("
    " position INTEGER PRIMARY KEY, stream TEXT NOT NULL, type TEXT NOT NULL,"
    " error TEXT NOT NULL, parked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')))",
)


def _environmental(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _ENVIRONMENTAL


@attrs.define
class _Guard:
    """Whether handlers are running: then transaction control is refused."""

    handlers: bool = False

    def authorize(self, action: int, *_: object) -> int:
        if self.handlers and action == sqlite3.SQLITE_TRANSACTION:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


@attrs.define
class SqliteTransaction:
    _target: SqliteTarget
    _start: Checkpoint
    _open: bool = True

    @property
    def start(self) -> Checkpoint:
        return self._start

    @property
    def handle(self) -> sqlite3.Connection:
        return self._target.connection

    def isolated(self, write: Callable[[sqlite3.Connection], None]) -> None:
        db = self._target.connection
        db.execute("SAVEPOINT projection_event")
        try:
            write(db)
        except BaseException as error:
            db.execute("ROLLBACK TO projection_event")
            db.execute("RELEASE projection_event")
            if isinstance(error, sqlite3.Error) and _environmental(error):
                raise TargetError(self._target.path, str(error)) from error
            raise
        db.execute("RELEASE projection_event")

    def park(self, letter: DeadLetter) -> None:
        self._target.connection.execute(
            f"INSERT OR REPLACE INTO {DEAD_LETTER_TABLE} (position, stream, type, error)"
            " VALUES (?, ?, ?, ?)",
            (letter.position, letter.stream, letter.type, letter.error),
        )

    def commit(self, checkpoint: Checkpoint) -> None:
        target, db = self._target, self._target.connection
        target.guard.handlers = False
        try:
            if not db.in_transaction:
                raise TargetError(target.path, "a handler ended the transaction")
            stored = target.read_checkpoint()
            if checkpoint.token < stored.token:
                raise Fenced(target.name, checkpoint.token, stored.token)
            if stored != self._start:
                raise CheckpointMoved(target.name, self._start.position, stored.position)
            db.execute(
                f"UPDATE {CHECKPOINT_TABLE} SET position = ?, token = ? WHERE projection = ?",
                (checkpoint.position, checkpoint.token, target.name),
            )
            db.commit()
        except BaseException:
            self.rollback()
            raise
        self._open = False

    def rollback(self) -> None:
        self._target.guard.handlers = False
        if self._open:
            self._open = False
            if self._target.connection.in_transaction:
                self._target.connection.rollback()


@attrs.define
class SqliteTarget:
    """A projection's SQLite database at one concrete path (not a link: see ``generation``)."""

    path: Path
    name: str
    connection: sqlite3.Connection
    guard: _Guard

    @classmethod
    def open(cls, path: Path | str, name: str) -> SqliteTarget:
        """Open or create the database of projection ``name``; refuse another's."""
        path = Path(path)
        try:
            db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as error:
            raise TargetError(path, f"cannot open the SQLite database: {error}") from error
        guard = _Guard()
        db.set_authorizer(guard.authorize)
        target = cls(path, name, db, guard)
        try:
            target._init()
        except BaseException:
            db.close()
            raise
        return target

    def _init(self) -> None:
        db = self.connection
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                db.execute(statement)
            names = [row[0] for row in db.execute(f"SELECT projection FROM {CHECKPOINT_TABLE}")]
            if not names:
                db.execute(
                    f"INSERT INTO {CHECKPOINT_TABLE} (projection, position, token)"
                    " VALUES (?, 0, 0)",
                    (self.name,),
                )
            elif names != [self.name]:
                raise TargetError(self.path, f"holds projection {names[0]!r}, not {self.name!r}")
            db.commit()
        except BaseException:
            db.rollback()
            raise

    def read_checkpoint(self) -> Checkpoint:
        row = self.connection.execute(
            f"SELECT position, token FROM {CHECKPOINT_TABLE} WHERE projection = ?", (self.name,)
        ).fetchone()
        if row is None:
            raise TargetError(self.path, "its checkpoint row is missing")
        return Checkpoint(position=row[0], token=row[1])

    # -- Target ---------------------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        return self.read_checkpoint()

    def begin(self) -> SqliteTransaction:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            start = self.read_checkpoint()
        except BaseException:
            self.connection.rollback()
            raise
        self.guard.handlers = True
        return SqliteTransaction(self, start)

    def dead_letters(self) -> list[DeadLetter]:
        rows = self.connection.execute(
            f"SELECT position, stream, type, error FROM {DEAD_LETTER_TABLE} ORDER BY position"
        )
        return [DeadLetter(position=p, stream=s, type=t, error=e) for p, s, t, e in rows]

    def close(self) -> None:
        self.connection.close()


class SqliteProjection(Projection[sqlite3.Connection]):
    """A projection into a SQLite database: handlers get the ``sqlite3.Connection``."""

    schema: ClassVar[Sequence[str]] = ()
    """Statements that create the read model (``CREATE TABLE IF NOT EXISTS ...``)."""

    def setup(self, handle: sqlite3.Connection) -> None:
        for statement in self.schema:
            handle.execute(statement)

    def open_target(self, path: Path) -> SqliteTarget:
        return SqliteTarget.open(path, self.name)
