"""``verify``: the whole check of a stopped node's store, record by record.

Three passes, each stopping at the first problem, which it names: the file (as a node checks
it before LMDB maps it); every record's checksum, table by table; and the applied state
against the log: every committed entry is applied again, from nothing, by the same state
machine (``MemoryState``), and each event's index row, each stream's head and the digest
chain must be what that replay gives. A store that passes holds exactly what its log says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import lmdb

from eventlog.errors import CorruptRecord, DataDirError
from eventlog.raft.records import EntryKind
from eventlog.state.memory import MemoryState
from eventlog.store import sealed
from eventlog.store.applied import TxnView, load_cache
from eventlog.store.codecs import POS, Q, decode_entry, stream_key, u64
from eventlog.store.layout import DB_NAMES, Dbs, check_format, check_readable, open_existing
from eventlog.store.ownership import DirLock
from eventlog.store.preflight import check_data_file

__all__ = [
    "Verified",
    "verify_store",
]


@attrs.frozen(kw_only=True)
class Verified:
    """What ``verify_store`` found: how much it checked, and the first problem, if any."""

    path: str
    records: int = 0
    """Records whose checksum holds."""
    entries: int = 0
    """Raft entries read, in order, from the first."""
    events: int = 0
    """Events replayed and found as the store indexes them."""
    problem: str | None = None

    @property
    def sound(self) -> bool:
        return self.problem is None


def verify_store(path: str | Path) -> Verified:
    """Check the store in ``path``; it must not be open by a node (``DataDirError`` names the
    holder if it is). Damage is reported in the result, never raised."""
    directory = check_readable(Path(path))
    lock = DirLock.take(directory)
    try:
        try:
            check_data_file(directory)
        except DataDirError as error:
            return Verified(path=str(directory), problem=str(error))
        env = lmdb.open(str(directory), readonly=True, lock=False, max_dbs=len(DB_NAMES))
        try:
            return _verify(env, directory)
        finally:
            env.close()
    finally:
        lock.release()


@attrs.define
class _Count:
    records: int = 0
    entries: int = 0
    events: int = 0


def _verify(env: Any, directory: Path) -> Verified:
    found = _Count()
    try:
        dbs = open_existing(env, directory)
        with env.begin() as txn:
            check_format(txn, dbs, directory)
            for name in DB_NAMES:
                if (db := getattr(dbs, name)) is None:  # a table newer than the store
                    continue
                for key, raw in txn.cursor(db=db):
                    sealed.verify(name, key, raw, _label(name, key))
                    found.records += 1
            _replay(txn, dbs, found)
    except (CorruptRecord, DataDirError, lmdb.Error) as error:
        return Verified(path=str(directory), problem=str(error), **attrs.asdict(found))
    return Verified(path=str(directory), **attrs.asdict(found))


def _label(table: str, key: bytes) -> object:
    """A key as an error line shows it: a number, a name, or hex."""
    if table in ("raft_log", "positions") and len(key) == Q.size:
        return u64(key, table, key)
    try:
        return key.decode()
    except UnicodeDecodeError:
        return key.hex()


def _replay(txn: Any, dbs: Dbs, found: _Count) -> None:
    """Apply every applied entry again and hold what the store indexes against it."""
    cache = load_cache(txn, dbs)
    state = MemoryState()
    cursor = txn.cursor(db=dbs.raft_log)
    expected_index = 1
    last_term = 0
    for key, raw in cursor:
        index = u64(key, "raft_log", key)
        if index != expected_index:
            raise CorruptRecord("raft_log", expected_index, "missing: the log has a gap")
        entry = decode_entry(index, raw)
        if entry.term < last_term:
            raise CorruptRecord("raft_log", index, f"term {entry.term} after term {last_term}")
        last_term, expected_index = entry.term, index + 1
        found.entries += 1
        if index > cache.applied_index:
            continue
        if entry.kind is EntryKind.NORMAL:
            state.apply(entry.data, first_index=index)
        for position, stream, version, log_index, ordinal in state.events:
            row = sealed.get(txn, dbs.positions, "positions", Q.pack(position), position)
            if row != POS.pack(log_index, ordinal, version):
                raise CorruptRecord("positions", position, "not the event the log puts there")
            sid = sealed.get(txn, dbs.stream_ids, "stream_ids", stream_key(stream))
            indexed = (
                None
                if sid is None
                else sealed.get(txn, dbs.stream_index, "stream_index", sid + Q.pack(version))
            )
            if indexed != Q.pack(position):
                raise CorruptRecord("stream_index", f"{stream}@{version}", "not indexed")
            found.events += 1
        state.events.clear()
    if cache.applied_index >= expected_index:
        raise CorruptRecord("meta", "applied_index", "beyond the end of the log")
    for stream, version in state.versions.items():
        sid = sealed.get(txn, dbs.stream_ids, "stream_ids", stream_key(stream))
        head = None if sid is None else sealed.get(txn, dbs.stream_heads, "stream_heads", sid)
        if head != Q.pack(version):
            raise CorruptRecord("stream_heads", stream, f"not version {version}")
    for name, position in state.tracked.items():
        if TxnView(txn, dbs, cache).tracking(name) != position:
            raise CorruptRecord("tracking", name, f"not at position {position}")
    if (cache.last_position, cache.digest) != (state.position, state.chain):
        raise CorruptRecord(
            "meta", "digest", f"the log's replay ends at position {state.position} with another"
        )
