"""An LMDB read model: the handlers' writes, the checkpoint and the fencing token commit in one
LMDB write transaction.

Handlers get an ``LmdbWriter`` over the projection's named databases (declared up front, as
LMDB opens them once per environment), never the raw transaction, so they cannot end it.
Keys and values are bytes; big-endian integers (``struct.pack(">Q", n)``) sort numerically.
Each event under the ``park`` policy runs in a nested transaction, so a failing handler's
writes are undone alone.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import lmdb

from projections.errors import CheckpointMoved, Fenced, TargetError
from projections.projection import Projection
from projections.target import Checkpoint, DeadLetter

META_DB = b"_projection_meta"
DEAD_LETTER_DB = b"_projection_dead_letters"
DEFAULT_MAP_SIZE = 1 << 36
"""64 GiB of address space: the file grows only as it is used."""
_Q = struct.Struct(">Q")
_NAME, _POSITION, _TOKEN = b"projection", b"position", b"token"


def _u64(raw: bytes | None) -> int:
    return 0 if raw is None else int(_Q.unpack(raw)[0])


@attrs.define
class LmdbWriter:
    """What handlers of an ``LmdbProjection`` write through: the projection's named
    databases inside the current transaction."""

    _txn: Any
    _dbs: dict[str, Any]
    _path: Path

    def _db(self, name: str) -> Any:
        try:
            return self._dbs[name]
        except KeyError:
            raise KeyError(f"no database {name!r}; declare it in `databases`") from None

    def get(self, db: str, key: bytes) -> bytes | None:
        value: bytes | None = self._txn.get(key, db=self._db(db))
        return value

    def put(self, db: str, key: bytes, value: bytes) -> None:
        try:
            self._txn.put(key, value, db=self._db(db))
        except lmdb.MapFullError as error:
            raise TargetError(self._path, f"the LMDB map is full: {error}") from error

    def delete(self, db: str, key: bytes) -> bool:
        deleted: bool = self._txn.delete(key, db=self._db(db))
        return deleted

    def items(self, db: str, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Entries of ``db`` whose key starts with ``prefix``, in key order."""
        cursor = self._txn.cursor(db=self._db(db))
        if not cursor.set_range(prefix):
            return
        for key, value in cursor:
            if not key.startswith(prefix):
                return
            yield bytes(key), bytes(value)


@attrs.define
class LmdbTransaction:
    _target: LmdbTarget
    _txn: Any
    _start: Checkpoint
    _writer: LmdbWriter
    _open: bool = True

    @property
    def start(self) -> Checkpoint:
        return self._start

    @property
    def handle(self) -> LmdbWriter:
        return self._writer

    def isolated(self, write: Callable[[LmdbWriter], None]) -> None:
        child = self._target.env.begin(write=True, parent=self._txn)
        self._writer._txn = child
        try:
            write(self._writer)
        except BaseException:
            child.abort()
            raise
        else:
            child.commit()
        finally:
            self._writer._txn = self._txn

    def park(self, letter: DeadLetter) -> None:
        value = json.dumps({"stream": letter.stream, "type": letter.type, "error": letter.error})
        self._put(DEAD_LETTER_DB, _Q.pack(letter.position), value.encode())

    def commit(self, checkpoint: Checkpoint) -> None:
        target = self._target
        try:
            stored = target.read_checkpoint(self._txn)
            if checkpoint.token < stored.token:
                raise Fenced(target.name, checkpoint.token, stored.token)
            if stored != self._start:
                raise CheckpointMoved(target.name, self._start.position, stored.position)
            self._put(META_DB, _POSITION, _Q.pack(checkpoint.position))
            self._put(META_DB, _TOKEN, _Q.pack(checkpoint.token))
            self._txn.commit()
        except BaseException:
            self.rollback()
            raise
        self._open = False

    def _put(self, db: bytes, key: bytes, value: bytes) -> None:
        try:
            self._txn.put(key, value, db=self._target.internal[db])
        except lmdb.MapFullError as error:
            raise TargetError(self._target.path, f"the LMDB map is full: {error}") from error

    def rollback(self) -> None:
        if self._open:
            self._open = False
            self._txn.abort()


@attrs.define
class LmdbTarget:
    """A projection's LMDB environment at one concrete directory (see ``generation``)."""

    path: Path
    name: str
    env: Any
    dbs: dict[str, Any]
    internal: dict[bytes, Any]

    @classmethod
    def open(
        cls,
        path: Path | str,
        name: str,
        databases: Iterable[str],
        *,
        map_size: int = DEFAULT_MAP_SIZE,
    ) -> LmdbTarget:
        """Open or create the environment of projection ``name``; refuse another's."""
        path, names = Path(path), list(databases)
        if any(db.startswith("_projection_") for db in names):
            raise TargetError(path, "database names starting with '_projection_' are reserved")
        try:
            env = lmdb.open(
                str(path), map_size=map_size, max_dbs=len(names) + 2, sync=True, metasync=False
            )
        except lmdb.Error as error:
            raise TargetError(path, f"cannot open the LMDB environment: {error}") from error
        try:
            with env.begin(write=True) as txn:
                internal = {db: env.open_db(db, txn=txn) for db in (META_DB, DEAD_LETTER_DB)}
                dbs = {db: env.open_db(db.encode(), txn=txn) for db in names}
                _claim_name(txn, internal[META_DB], path, name)
        except BaseException:
            env.close()
            raise
        return cls(path, name, env, dbs, internal)

    def read_checkpoint(self, txn: Any) -> Checkpoint:
        meta = self.internal[META_DB]
        return Checkpoint(
            position=_u64(txn.get(_POSITION, db=meta)), token=_u64(txn.get(_TOKEN, db=meta))
        )

    # -- Target ---------------------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        with self.env.begin() as txn:
            return self.read_checkpoint(txn)

    def begin(self) -> LmdbTransaction:
        txn = self.env.begin(write=True)
        try:
            start = self.read_checkpoint(txn)
        except BaseException:
            txn.abort()
            raise
        return LmdbTransaction(self, txn, start, LmdbWriter(txn, self.dbs, self.path))

    def dead_letters(self) -> list[DeadLetter]:
        letters = []
        with self.env.begin() as txn:
            for key, value in txn.cursor(db=self.internal[DEAD_LETTER_DB]):
                fields = json.loads(value)
                letters.append(DeadLetter(position=_u64(key), **fields))
        return letters

    def read(self, db: str) -> dict[bytes, bytes]:
        """Every entry of one of the projection's databases (for checks and small models)."""
        with self.env.begin() as txn:
            return {bytes(k): bytes(v) for k, v in txn.cursor(db=self.dbs[db])}

    def close(self) -> None:
        self.env.close()


def _claim_name(txn: Any, meta: Any, path: Path, name: str) -> None:
    stored = txn.get(_NAME, db=meta)
    if stored is None:
        txn.put(_NAME, name.encode(), db=meta)
    elif bytes(stored) != name.encode():
        raise TargetError(path, f"holds projection {bytes(stored).decode()!r}, not {name!r}")


class LmdbProjection(Projection[LmdbWriter]):
    """A projection into an LMDB environment: handlers get an ``LmdbWriter`` over the named
    ``databases``."""

    databases: ClassVar[tuple[str, ...]] = ()
    map_size: ClassVar[int] = DEFAULT_MAP_SIZE
    target_is_directory = True

    def open_target(self, path: Path) -> LmdbTarget:
        return LmdbTarget.open(path, self.name, self.databases, map_size=self.map_size)
