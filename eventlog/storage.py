"""LMDB storage of one node: the Raft log, the hard state, and the applied state with indexes.

One environment per node, one write transaction per ``persist`` and per ``apply``. LMDB makes
a commit atomic and (unless opened unsafe) durable, which gives the two rules recovery needs:
entries and hard state are on disk before the node answers (``persist``), and the indexes,
``applied_index``, ``last_position`` and ``digest`` move together (``apply``), so a restart
never applies an entry twice and never rebuilds an index.

An event's bytes live once, in its Raft entry. ``positions`` maps a position to
``(log_index, ordinal, version)``; a read decodes the entry and takes the ordinal-th event.

Keys are big-endian so byte order is numeric order. Tables (LMDB named databases):

    raft_log      >Q index            -> >QB term, kind + data
    raft_state    b"hard_state"       -> msgpack [term, vote, commit]
    meta          name                -> value (see ``_M_*``)
    positions     >Q position         -> >QIQ log_index, ordinal, version
    stream_ids    stream key          -> >Q stream id (local to this node)
    stream_index  >Q id + >Q version  -> >Q position
    stream_heads  >Q id               -> >Q version
    requests      request id          -> msgpack Outcome.to_wire()

Threading: reads may run in any thread while one thread writes; ``_Gate`` keeps every
transaction out while the map grows. The in-memory cache is updated only after a commit, so
what it reports is always on disk.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from hashlib import blake2b
from pathlib import Path
from typing import Any, TypeVar

import attrs
import lmdb
import msgpack
import structlog

from eventlog import commands
from eventlog.errors import CorruptRecord, EventLogError, InvariantViolation
from eventlog.raft.records import EMPTY_HARD_STATE, Entry, EntryKind, HardState
from eventlog.raft.storage import EntryUnavailable, StorageError
from eventlog.records import RecordedEvent
from eventlog.statemachine import (
    INITIAL_DIGEST,
    REQUEST_RETENTION_MS,
    Outcome,
    WriteSet,
    apply_entry,
    event_id,
)
from eventlog.types import LogIndex, NodeId, Position, Term

FORMAT_VERSION = 2
MAX_MAP_SIZE = 1 << 40
"""The map doubles on demand up to this; past it a write raises ``StorageFull``."""

_T = TypeVar("_T")
_Txn = Any  # lmdb ships no type hints
_log = structlog.get_logger(__name__)
_Flat = tuple[str, str, bytes, bytes]
"""One event of a stored batch as a read needs it: stream, type, data, metadata."""

_Q = struct.Struct(">Q")
_U64_MAX = 2**64 - 1
_HEAD = struct.Struct(">QB")
_POS = struct.Struct(">QIQ")
_LMDB_FILES = frozenset({"data.mdb", "lock.mdb"})
_MAX_PLAIN_STREAM_KEY = 480
"""LMDB keys hold at most 511 bytes; longer stream names are keyed by their hash."""
_HARD_STATE_KEY = b"hard_state"
_M_FORMAT, _M_CLUSTER, _M_NODE = b"format", b"cluster_id", b"node_id"
_M_APPLIED, _M_POSITION, _M_DIGEST = b"applied_index", b"last_position", b"digest"
_M_STREAMS = b"stream_count"
_M_CLOCK = b"clock_ms"
_EXPIRE_PER_TXN = 4096
"""Expired request rows dropped per apply transaction, at most: keeps each one short."""


class DataDirError(EventLogError):
    """The data directory cannot be used by this node: not ours, another node's, unwritable."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"data dir {str(path)!r}: {reason}")


class StorageFull(EventLogError):
    """The LMDB map cannot grow any further (or the disk is full); nothing was written."""


@attrs.frozen(slots=True)
class _Dbs:
    """Handles of the named databases, opened once per environment."""

    raft_log: Any
    raft_state: Any
    meta: Any
    positions: Any
    stream_ids: Any
    stream_index: Any
    stream_heads: Any
    requests: Any
    request_times: Any


_DB_NAMES = tuple(field.name for field in attrs.fields(_Dbs))


@attrs.define
class _Cache:
    """In-memory copies of what the last committed write transaction left on disk.

    Invariants: ``applied_index <= last_index``; ``last_term`` is the term at ``last_index``.
    """

    last_index: LogIndex = LogIndex(0)
    last_term: Term = Term(0)
    hard_state: HardState = EMPTY_HARD_STATE
    applied_index: LogIndex = LogIndex(0)
    last_position: Position = Position(0)
    digest: bytes = INITIAL_DIGEST
    stream_count: int = 0
    clock_ms: int = 0


@attrs.define
class _Gate:
    """Transactions share the gate; growing the map takes it alone, since LMDB allows
    ``mdb_env_set_mapsize`` only while no transaction of the process is active, and a node
    writes in a worker thread while it serves reads."""

    durable: bool
    """Make commits that must survive a power loss durable (``sync``); False is the unsafe
    no-fsync mode."""
    _cond: threading.Condition = attrs.field(factory=threading.Condition)
    _active: int = 0
    _growing: bool = False

    @contextmanager
    def txn(self, env: Any, write: bool = False) -> Iterator[_Txn]:
        with self._cond:
            self._cond.wait_for(lambda: not self._growing)
            self._active += 1
        try:
            with env.begin(write=write) as txn:
                yield txn
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def grow(self, env: Any) -> None:
        with self._cond:
            self._cond.wait_for(lambda: not self._growing)
            self._growing = True
            self._cond.wait_for(lambda: self._active == 0)
        try:
            _grow(env)
        finally:
            with self._cond:
                self._growing = False
                self._cond.notify_all()


@attrs.define
class _TxnView:
    """The ``StateView`` of the state machine over an open transaction; remembers the stream
    ids it looked up, so writing the apply's results does not look them up again."""

    txn: _Txn
    dbs: _Dbs
    cache: _Cache
    ids: dict[str, bytes] = attrs.field(factory=dict)

    def stream_version(self, stream: str) -> int:
        sid = self.txn.get(_stream_key(stream), db=self.dbs.stream_ids)
        if sid is None:
            return 0
        self.ids[stream] = sid
        return _u64(self.txn.get(sid, db=self.dbs.stream_heads), "stream_heads", sid)

    def request_outcome(self, request_id: bytes) -> Outcome | None:
        raw = self.txn.get(request_id, db=self.dbs.requests)
        return None if raw is None else _decode_outcome(request_id, raw)

    def last_position(self) -> Position:
        return self.cache.last_position

    def digest(self) -> bytes:
        return self.cache.digest

    def clock_ms(self) -> int:
        return self.cache.clock_ms


@attrs.define
class LmdbStorage:
    """The node's disk: the core's read ports (``LogStorage``, ``StateStorage``), the host's
    writes (``persist``, ``apply``) and the committed-and-applied reads."""

    path: Path
    _env: Any
    _gate: _Gate
    _dbs: _Dbs
    _cache: _Cache

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        cluster_id: str,
        node_id: int,
        sync: bool = True,
        map_size: int = 1 << 30,
    ) -> LmdbStorage:
        """Create the store, or reopen it after checking it belongs to this cluster and node.

        ``sync=False`` skips fsync on commit: fast, and unsafe (a power loss can lose
        acknowledged entries); for tests and benchmarks only."""
        directory = _prepare_dir(Path(path))
        try:
            env = lmdb.open(
                str(directory),
                map_size=map_size,
                max_dbs=len(_DB_NAMES),
                sync=sync,
                # Every commit fsyncs its pages, but the meta page is flushed only by
                # ``env.sync`` (or the next commit): ACI on every commit, D where needed.
                metasync=False,
            )
        except lmdb.Error as error:
            raise DataDirError(directory, f"cannot open the LMDB environment: {error}") from error
        gate = _Gate(durable=sync)
        try:
            dbs = _write_txn(
                gate, env, lambda txn: _init_or_check(env, txn, directory, cluster_id, node_id)
            )
            with gate.txn(env) as txn:
                cache = _load_cache(txn, dbs)
        except BaseException:
            env.close()
            raise
        if not sync:
            _log.warning("unsafe_no_fsync", path=str(directory), node_id=node_id)
        return cls(directory, env, gate, dbs, cache)

    def close(self) -> None:
        self._env.close()

    def map_size(self) -> int:
        """Bytes LMDB may map now; it doubles whenever a write finds the map full."""
        size: int = self._env.info()["map_size"]
        return size

    def __enter__(self) -> LmdbStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- LogStorage / StateStorage (read by the core; answered from the cache where possible) --
    def first_index(self) -> LogIndex:
        return LogIndex(1)

    def last_index(self) -> LogIndex:
        return self._cache.last_index

    def term(self, index: LogIndex) -> Term:
        if index == 0:
            return Term(0)
        if index == self._cache.last_index:
            return self._cache.last_term
        if index < 0 or index > self._cache.last_index:
            raise EntryUnavailable(index)
        with self._gate.txn(self._env) as txn:
            raw = txn.get(_Q.pack(index), db=self._dbs.raft_log)
        return _decode_entry(index, raw).term

    def entries(self, lo: LogIndex, hi: LogIndex, max_bytes: int | None = None) -> list[Entry]:
        """Entries in ``[lo, hi)``; stops once over ``max_bytes`` but returns at least one."""
        if lo < 1 or hi > self._cache.last_index + 1:
            raise EntryUnavailable(lo if lo < 1 else hi - 1)
        result: list[Entry] = []
        if lo >= hi:
            return result
        total = 0
        with self._gate.txn(self._env) as txn:
            cursor = txn.cursor(db=self._dbs.raft_log)
            cursor.set_range(_Q.pack(lo))
            for key, value in cursor:
                index = lo + len(result)
                if key != _Q.pack(index):
                    raise CorruptRecord("raft_log", index, "entry missing inside the log")
                entry = _decode_entry(index, value)
                total += entry.size
                if max_bytes is not None and total > max_bytes and result:
                    return result
                result.append(entry)
                if index + 1 == hi:
                    return result
        raise CorruptRecord("raft_log", lo + len(result), "entry missing at the end of the log")

    def hard_state(self) -> HardState:
        return self._cache.hard_state

    # -- host writes ---------------------------------------------------------------------------
    def persist(self, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        """Write a Ready's hard state and entries in one transaction, whose commit is the fsync."""
        self.write_ready(hard_state, entries, ())

    def apply(self, entries: Sequence[Entry]) -> list[tuple[LogIndex, list[Outcome]]]:
        """Apply committed entries that are already persisted."""
        return self.write_ready(None, (), entries)

    def write_ready(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        committed: Sequence[Entry],
        on_applied: Callable[[list[tuple[LogIndex, list[Outcome]]]], None] | None = None,
    ) -> list[tuple[LogIndex, list[Outcome]]]:
        """Persist a Ready and apply its committed entries in one transaction: one fsync.

        ``on_applied`` gets the outcomes before that commit: they are decided by entries a
        majority already holds, so a caller may be answered while this node's fsync runs (a
        retried transaction calls it again with the same outcomes).

        Entries replace whatever the log held from ``entries[0].index`` on; applied entries
        are committed and must never be replaced (``InvariantViolation``). The results of the
        apply, the indexes and the new applied index are written with the log, so a restart
        never applies twice; committed entries at or below ``applied_index`` are skipped."""
        if entries:
            self._check_append(entries)
        todo = [entry for entry in committed if entry.index > self._cache.applied_index]
        if todo:
            self._check_apply(todo, entries[-1].index if entries else self._cache.last_index)
        if hard_state is None and not entries and not todo:
            return []

        def write(txn: _Txn) -> tuple[WriteSet, list[tuple[LogIndex, list[Outcome]]], int] | None:
            if entries:
                self._write_entries(txn, entries)
            if hard_state is not None:
                value = msgpack.packb([hard_state.term, hard_state.vote, hard_state.commit])
                txn.put(_HARD_STATE_KEY, value, db=self._dbs.raft_state)
            if not todo:
                return None
            applied = self._apply(txn, todo)
            if on_applied is not None:
                on_applied(applied[1])
            return applied

        durable = hard_state is not None or bool(entries)
        applied = _write_txn(self._gate, self._env, write, durable=durable)
        cache = self._cache
        if entries:
            cache.last_index, cache.last_term = entries[-1].index, entries[-1].term
        if hard_state is not None:
            cache.hard_state = hard_state
        if applied is None:
            return []
        writes, results, stream_count = applied
        cache.applied_index, cache.stream_count = todo[-1].index, stream_count
        cache.last_position, cache.digest = writes.last_position, writes.digest
        cache.clock_ms = writes.clock_ms
        return results

    def _check_append(self, entries: Sequence[Entry]) -> None:
        first, last = entries[0].index, entries[-1].index
        if first > self._cache.last_index + 1 or first < 1:
            raise StorageError(f"gap in log: appending {first} after {self._cache.last_index}")
        if last - first + 1 != len(entries):
            raise StorageError(f"entries {first}..{last} are not consecutive")
        if first <= self._cache.applied_index:
            raise InvariantViolation(
                f"replacing entry {first}, already applied up to {self._cache.applied_index}"
            )

    def _write_entries(self, txn: _Txn, entries: Sequence[Entry]) -> None:
        first = entries[0].index
        cursor = txn.cursor(db=self._dbs.raft_log)
        if first <= self._cache.last_index and cursor.set_range(_Q.pack(first)):
            while cursor.delete():
                pass
        cursor.putmulti(
            [(_Q.pack(e.index), _HEAD.pack(e.term, e.kind) + e.data) for e in entries],
            append=True,
        )

    def _check_apply(self, todo: list[Entry], last_index: LogIndex) -> None:
        first = self._cache.applied_index + 1
        if [entry.index for entry in todo] != list(range(first, first + len(todo))):
            raise InvariantViolation(f"applying entries that do not follow {first - 1} in order")
        if todo[-1].index > last_index:
            raise InvariantViolation(f"applying entry {todo[-1].index}, which is not persisted")

    def _apply(
        self, txn: _Txn, todo: list[Entry]
    ) -> tuple[WriteSet, list[tuple[LogIndex, list[Outcome]]], int]:
        view = _TxnView(txn, self._dbs, self._cache)
        writes = WriteSet.over(view)
        results: list[tuple[LogIndex, list[Outcome]]] = []
        for entry in todo:
            outcomes: list[Outcome] = []
            if entry.kind is EntryKind.NORMAL:
                outcomes = apply_entry(view, writes, entry.index, entry.data)
            results.append((entry.index, outcomes))
        stream_count = self._write_applied(txn, view, writes)
        meta = self._dbs.meta
        txn.put(_M_APPLIED, _Q.pack(todo[-1].index), db=meta)
        txn.put(_M_POSITION, _Q.pack(writes.last_position), db=meta)
        txn.put(_M_DIGEST, writes.digest, db=meta)
        txn.put(_M_STREAMS, _Q.pack(stream_count), db=meta)
        txn.put(_M_CLOCK, _Q.pack(writes.clock_ms), db=meta)
        return writes, results, stream_count

    def _write_applied(self, txn: _Txn, view: _TxnView, writes: WriteSet) -> int:
        """Write the events' index rows, stream heads and outcomes; returns the stream count."""
        dbs, ids, count = self._dbs, view.ids, self._cache.stream_count
        for stream, version in writes.stream_versions.items():
            sid = ids.get(stream)
            if sid is None:
                count += 1
                sid = ids[stream] = _Q.pack(count)
                txn.put(_stream_key(stream), sid, db=dbs.stream_ids)
            txn.put(sid, _Q.pack(version), db=dbs.stream_heads)
        pack_q, pack_pos = _Q.pack, _POS.pack
        txn.cursor(db=dbs.positions).putmulti(
            [(pack_q(p), pack_pos(index, ordinal, v)) for p, _, v, index, ordinal in writes.events],
            append=True,
        )
        txn.cursor(db=dbs.stream_index).putmulti(
            [(ids[s] + pack_q(v), pack_q(p)) for p, s, v, _, _ in writes.events]
        )
        txn.cursor(db=dbs.requests).putmulti(
            [(rid, msgpack.packb(o.to_wire())) for rid, o in writes.outcomes.items()]
        )
        txn.cursor(db=dbs.request_times).putmulti(
            [(pack_q(o.applied_ms) + rid, b"") for rid, o in writes.outcomes.items()]
        )
        self._drop_expired_requests(txn, writes.clock_ms - REQUEST_RETENTION_MS)
        return count

    def _drop_expired_requests(self, txn: _Txn, cutoff_ms: int) -> None:
        """Delete request rows older than the retention, oldest first; a row re-decided
        since (an expired id used again) has a newer time and stays."""
        dbs = self._dbs
        cursor = txn.cursor(db=dbs.request_times)
        dropped = 0
        while dropped < _EXPIRE_PER_TXN and cursor.first():
            key = cursor.key()
            if _u64(key[:8], "request_times", key) >= cutoff_ms:
                break
            request_id = key[8:]
            raw = txn.get(request_id, db=dbs.requests)
            if raw is not None and _decode_outcome(request_id, raw).applied_ms < cutoff_ms:
                txn.delete(request_id, db=dbs.requests)
            cursor.delete()
            dropped += 1

    # -- applied state -------------------------------------------------------------------------
    def applied_index(self) -> LogIndex:
        return self._cache.applied_index

    def last_position(self) -> Position:
        return self._cache.last_position

    def digest(self) -> bytes:
        return self._cache.digest

    def stream_version(self, stream: str) -> int:
        with self._gate.txn(self._env) as txn:
            return _TxnView(txn, self._dbs, self._cache).stream_version(stream)

    def request_outcome(self, request_id: bytes) -> Outcome | None:
        with self._gate.txn(self._env) as txn:
            return _TxnView(txn, self._dbs, self._cache).request_outcome(request_id)

    # -- reads (committed and applied only) ----------------------------------------------------
    def read_all(self, from_position: int = 1, limit: int | None = None) -> list[RecordedEvent]:
        """Events in position order from ``from_position`` (0 or less reads from the start)."""
        if limit is not None and limit <= 0:
            return []
        refs: list[tuple[int, bytes]] = []
        with self._gate.txn(self._env) as txn:
            cursor = txn.cursor(db=self._dbs.positions)
            if cursor.set_range(_Q.pack(max(from_position, 1))):
                for key, value in cursor:
                    refs.append((_u64(key, "positions", key), value))
                    if len(refs) == limit:
                        break
            return self._recorded(txn, refs)

    def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of ``stream`` in version order from ``from_version``; [] if it is absent."""
        if limit is not None and limit <= 0:
            return []
        refs: list[tuple[int, bytes | None]] = []
        with self._gate.txn(self._env) as txn:
            sid = txn.get(_stream_key(stream), db=self._dbs.stream_ids)
            cursor = txn.cursor(db=self._dbs.stream_index)
            if sid is not None and cursor.set_range(sid + _Q.pack(max(from_version, 1))):
                for key, value in cursor:
                    if key[:8] != sid:
                        break
                    position = _u64(value, "stream_index", key)
                    refs.append((position, txn.get(value, db=self._dbs.positions)))
                    if len(refs) == limit:
                        break
            return self._recorded(txn, refs)

    def read_stream_backwards(
        self, stream: str, from_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of ``stream`` in descending version order from ``from_version`` (its last
        event when None): the newest snapshot or the tail of a stream without reading it all."""
        if (limit is not None and limit <= 0) or (from_version is not None and from_version < 1):
            return []
        refs: list[tuple[int, bytes | None]] = []
        with self._gate.txn(self._env) as txn:
            sid = txn.get(_stream_key(stream), db=self._dbs.stream_ids)
            if sid is None:
                return []
            cursor = txn.cursor(db=self._dbs.stream_index)
            start = sid + _Q.pack(_U64_MAX if from_version is None else from_version)
            if not cursor.set_range(start):
                found = cursor.last()
            else:
                found = cursor.key() == start or cursor.prev()
            while found:
                key, value = cursor.item()
                if key[:8] != sid:
                    break
                position = _u64(value, "stream_index", key)
                refs.append((position, txn.get(value, db=self._dbs.positions)))
                if len(refs) == limit:
                    break
                found = cursor.prev()
            return self._recorded(txn, refs)

    def _recorded(self, txn: _Txn, refs: Sequence[tuple[int, bytes | None]]) -> list[RecordedEvent]:
        """Build events from ``(position, positions row)``, decoding each entry once (the
        events of one entry are adjacent in both position and version order)."""
        result: list[RecordedEvent] = []
        loaded, timestamp = -1, 0
        flat: list[_Flat] = []
        for position, row in refs:
            if row is None or len(row) != _POS.size:
                raise CorruptRecord("positions", position, "missing or not 20 bytes")
            log_index, ordinal, version = _POS.unpack(row)
            if log_index != loaded:
                timestamp, flat = self._batch_events(txn, log_index)
                loaded = log_index
            if ordinal >= len(flat):
                raise CorruptRecord("positions", position, f"no event {ordinal} in {log_index}")
            stream, kind, data, metadata = flat[ordinal]
            result.append(
                RecordedEvent(
                    position=Position(position),
                    stream=stream,
                    version=version,
                    type=kind,
                    data=data,
                    metadata=metadata,
                    id=event_id(timestamp, position),
                    timestamp=timestamp,
                )
            )
        return result

    def _batch_events(self, txn: _Txn, index: int) -> tuple[int, list[_Flat]]:
        """The batch timestamp and all events of entry ``index``, flattened in ordinal order
        (the entry was checked when it was applied)."""
        entry = _decode_entry(index, txn.get(_Q.pack(index), db=self._dbs.raft_log))
        try:
            timestamp, requests = commands.decode_batch(entry.data)
            flat = [
                (stream, kind, data, metadata)
                for _, _, appends in requests
                for stream, _, batch_events in appends
                for kind, data, metadata in batch_events
            ]
        except (CorruptRecord, ValueError, TypeError) as error:
            raise CorruptRecord("raft_log", index, f"batch does not decode: {error}") from error
        return timestamp, flat


# -- opening helpers ---------------------------------------------------------------------------
def _prepare_dir(path: Path) -> Path:
    """Create the directory, or check that what it holds can only be an LMDB environment."""
    if path.exists() and not path.is_dir():
        raise DataDirError(path, "exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        foreign = sorted(set(os.listdir(path)) - _LMDB_FILES)
    except OSError as error:
        raise DataDirError(path, f"cannot create or list it: {error.strerror}") from error
    if foreign:
        raise DataDirError(path, f"holds files that are not an eventraft store: {foreign[:5]}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataDirError(path, "is not writable")
    return path


def _init_or_check(env: Any, txn: _Txn, path: Path, cluster_id: str, node_id: int) -> _Dbs:
    """Open the named databases; initialise meta in the same transaction on a fresh store,
    else check the store's format, cluster and node against ours."""
    fresh = txn.get(b"meta") is None
    if fresh and txn.cursor().first():
        raise DataDirError(path, "holds an LMDB environment that is not an eventraft store")
    try:
        dbs = _Dbs(*(env.open_db(name.encode(), txn=txn) for name in _DB_NAMES))
    except lmdb.Error as error:
        raise DataDirError(path, f"not an eventraft store: {error}") from error
    if fresh:
        txn.put(_M_FORMAT, _Q.pack(FORMAT_VERSION), db=dbs.meta)
        txn.put(_M_CLUSTER, cluster_id.encode(), db=dbs.meta)
        txn.put(_M_NODE, _Q.pack(node_id), db=dbs.meta)
        return dbs
    stored_format = _u64(txn.get(_M_FORMAT, db=dbs.meta), "meta", _M_FORMAT)
    if stored_format != FORMAT_VERSION:
        raise DataDirError(path, f"format {stored_format}; this build reads {FORMAT_VERSION}")
    stored_cluster = (txn.get(_M_CLUSTER, db=dbs.meta) or b"").decode(errors="replace")
    if stored_cluster != cluster_id:
        raise DataDirError(path, f"belongs to cluster {stored_cluster!r}, not {cluster_id!r}")
    stored_node = _u64(txn.get(_M_NODE, db=dbs.meta), "meta", _M_NODE)
    if stored_node != node_id:
        raise DataDirError(path, f"belongs to node {stored_node}, not node {node_id}")
    return dbs


def _load_cache(txn: _Txn, dbs: _Dbs) -> _Cache:
    cache = _Cache()
    cursor = txn.cursor(db=dbs.raft_log)
    if cursor.last():
        index = LogIndex(_u64(cursor.key(), "raft_log", cursor.key()))
        cache.last_index, cache.last_term = index, _decode_entry(index, cursor.value()).term
    raw_state = txn.get(_HARD_STATE_KEY, db=dbs.raft_state)
    if raw_state is not None:
        cache.hard_state = _decode_hard_state(raw_state)

    def meta_u64(key: bytes) -> int:
        raw = txn.get(key, db=dbs.meta)
        return 0 if raw is None else _u64(raw, "meta", key)

    cache.applied_index = LogIndex(meta_u64(_M_APPLIED))
    cache.last_position = Position(meta_u64(_M_POSITION))
    cache.stream_count = meta_u64(_M_STREAMS)
    cache.clock_ms = meta_u64(_M_CLOCK)
    cache.digest = txn.get(_M_DIGEST, db=dbs.meta) or INITIAL_DIGEST
    if len(cache.digest) != len(INITIAL_DIGEST):
        raise CorruptRecord("meta", _M_DIGEST, "digest is not 32 bytes")
    if cache.applied_index > cache.last_index:
        raise CorruptRecord("meta", _M_APPLIED, f"beyond the last entry {cache.last_index}")
    return cache


# -- writing with map growth -------------------------------------------------------------------
def _write_txn(gate: _Gate, env: Any, write: Callable[[_Txn], _T], *, durable: bool = True) -> _T:
    """Run ``write`` in one write transaction; if the map fills, the transaction is aborted
    (nothing half-written), the map doubles and ``write`` runs again from the start.

    Every commit is atomic and consistent after a crash; a ``durable`` one also survives a
    power loss (the meta page is flushed too). Only a commit whose loss a restart repairs
    by itself, such as applying entries the log already holds, may skip that."""
    while True:
        try:
            with gate.txn(env, write=True) as txn:
                result = write(txn)
            if durable and gate.durable:
                env.sync(True)
            return result
        except lmdb.MapFullError:
            gate.grow(env)
        except lmdb.Error as error:
            if isinstance(error, lmdb.DiskError) or "No space left" in str(error):
                raise StorageFull(f"disk full: {error}") from error
            raise StorageError(f"LMDB write failed: {error}") from error


def _grow(env: Any) -> None:
    size = env.info()["map_size"]
    if size * 2 > MAX_MAP_SIZE:
        raise StorageFull(f"LMDB map of {size} bytes is full and may not grow past {MAX_MAP_SIZE}")
    env.set_mapsize(size * 2)
    _log.info("lmdb_map_grown", path=env.path(), map_size=size * 2)


# -- decoding what was read from disk ----------------------------------------------------------
def _u64(raw: bytes | None, db: str, key: object) -> int:
    if raw is None or len(raw) != 8:
        raise CorruptRecord(db, key, "missing or not an 8-byte integer")
    value: int = _Q.unpack(raw)[0]
    return value


def _decode_entry(index: int, raw: bytes | None) -> Entry:
    if raw is None or len(raw) < _HEAD.size:
        raise CorruptRecord("raft_log", index, "missing or shorter than its header")
    term, kind = _HEAD.unpack_from(raw)
    try:
        entry_kind = EntryKind(kind)
    except ValueError as error:
        raise CorruptRecord("raft_log", index, f"unknown entry kind {kind}") from error
    return Entry(term=Term(term), index=LogIndex(index), data=raw[_HEAD.size :], kind=entry_kind)


def _decode_hard_state(raw: bytes) -> HardState:
    try:
        term, vote, commit = msgpack.unpackb(raw)
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise CorruptRecord("raft_state", _HARD_STATE_KEY, str(error)) from error
    if not all(isinstance(v, int) and v >= 0 for v in (term, vote, commit)):
        raise CorruptRecord("raft_state", _HARD_STATE_KEY, "fields are not non-negative ints")
    return HardState(term=Term(term), vote=NodeId(vote), commit=LogIndex(commit))


def _decode_outcome(request_id: bytes, raw: bytes) -> Outcome:
    try:
        return Outcome.from_wire(msgpack.unpackb(raw))
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise CorruptRecord("requests", request_id, str(error)) from error


def _stream_key(stream: str) -> bytes:
    """The stream's key in ``stream_ids``: its UTF-8 name, or for a name too long for an LMDB
    key, 0xFF (never in UTF-8) followed by its blake2b-256 hash."""
    encoded = stream.encode()
    if len(encoded) <= _MAX_PLAIN_STREAM_KEY:
        return encoded
    return b"\xff" + blake2b(encoded, digest_size=32).digest()
