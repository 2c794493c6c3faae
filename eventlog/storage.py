"""LMDB storage of one node: the Raft log, the hard state, and the applied state with indexes.

One environment per node and one write transaction per Ready (``write_ready``): the Ready's
entries and hard state, and the results of applying its committed entries, commit together.
LMDB makes a commit atomic and (unless opened unsafe) durable, which gives the two rules
recovery needs: entries and hard state are on disk before the node answers, and the indexes,
``applied_index``, ``last_position`` and ``digest`` move together, so a restart never applies
an entry twice and never rebuilds an index. The layout is in ``lmdb_layout``; reads are in
``event_reads``.

Threading: reads may run in any thread while one thread writes; ``Gate`` keeps every
transaction out while the map grows. The in-memory cache is updated only after a commit, so
what it reports is always on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import lmdb
import msgpack

from eventlog.errors import CorruptRecord, DataDirError, InvariantViolation
from eventlog.event_reads import EventReader
from eventlog.lmdb_layout import (
    DB_NAMES,
    HARD_STATE_KEY,
    HEAD,
    M_APPLIED,
    M_CLOCK,
    M_DIGEST,
    M_LEASE_TOKEN,
    M_POSITION,
    M_STREAMS,
    POS,
    Dbs,
    Gate,
    Q,
    Txn,
    decode_entry,
    decode_hard_state,
    decode_lease,
    decode_outcome,
    encode_lease,
    init_or_check,
    prepare_dir,
    stream_key,
    u64,
    write_txn,
)
from eventlog.logs import library_logger
from eventlog.raft.records import EMPTY_HARD_STATE, Entry, EntryKind, HardState
from eventlog.raft.storage import EntryUnavailable, StorageError
from eventlog.records import LeaseGrant, RecordedEvent
from eventlog.state.machine import (
    INITIAL_DIGEST,
    REQUEST_RETENTION_MS,
    WriteSet,
    apply_entry,
)
from eventlog.state.outcomes import Outcome
from eventlog.types import LogIndex, Position, Term

EXPIRE_PER_TXN = 4096
"""Expired request rows dropped per apply transaction, at most: keeps each one short."""


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
    lease_token: int = 0


@attrs.define
class _TxnView:
    """The ``StateView`` of the state machine over an open transaction; remembers the stream
    ids it looked up, so writing the apply's results does not look them up again."""

    txn: Txn
    dbs: Dbs
    cache: _Cache
    ids: dict[str, bytes] = attrs.field(factory=dict)

    def stream_version(self, stream: str) -> int:
        sid = self.txn.get(stream_key(stream), db=self.dbs.stream_ids)
        if sid is None:
            return 0
        self.ids[stream] = sid
        return u64(self.txn.get(sid, db=self.dbs.stream_heads), "stream_heads", sid)

    def request_outcome(self, request_id: bytes) -> Outcome | None:
        raw = self.txn.get(request_id, db=self.dbs.requests)
        return None if raw is None else decode_outcome(request_id, raw)

    def last_position(self) -> Position:
        return self.cache.last_position

    def digest(self) -> bytes:
        return self.cache.digest

    def clock_ms(self) -> int:
        return self.cache.clock_ms

    def lease(self, name: str) -> LeaseGrant | None:
        raw = self.txn.get(name.encode(), db=self.dbs.leases)
        return None if raw is None else decode_lease(name.encode(), raw)

    def lease_token(self) -> int:
        return self.cache.lease_token


@attrs.define
class _Staged:
    """Outcomes decided over the last commit but not written yet (see ``stage``)."""

    writes: WriteSet
    applied: LogIndex
    """The last committed entry whose effects ``writes`` holds."""
    hard_state: HardState | None = None
    sids: dict[str, bytes] = attrs.field(factory=dict)
    """Ids of the existing streams the decisions looked up: nothing writes stream ids until
    this is written, so they still hold then."""


@attrs.define
class LmdbStorage:
    """The node's disk: the core's read ports (``LogStorage``, ``StateStorage``), the host's
    writes (``write_ready``) and the committed-and-applied reads."""

    path: Path
    _env: Any
    _gate: Gate
    _dbs: Dbs
    _cache: _Cache
    _reader: EventReader = attrs.field(init=False)
    _staged: _Staged | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self._reader = EventReader(self._env, self._gate, self._dbs)

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
        directory = prepare_dir(Path(path))
        try:
            env = lmdb.open(
                str(directory),
                map_size=map_size,
                max_dbs=len(DB_NAMES),
                sync=sync,
                # Every commit fsyncs its pages, but the meta page is flushed only by
                # ``env.sync`` (or the next commit): ACI on every commit, D where needed.
                metasync=False,
            )
        except lmdb.Error as error:
            raise DataDirError(directory, f"cannot open the LMDB environment: {error}") from error
        gate = Gate(durable=sync)
        try:
            dbs = write_txn(
                gate, env, lambda txn: init_or_check(env, txn, directory, cluster_id, node_id)
            )
            with gate.txn(env) as txn:
                cache = _load_cache(txn, dbs)
        except BaseException:
            env.close()
            raise
        if not sync:
            library_logger(__name__).warning(
                "unsafe_no_fsync", path=str(directory), node_id=node_id
            )
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
            raw = txn.get(Q.pack(index), db=self._dbs.raft_log)
        return decode_entry(index, raw).term

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
            cursor.set_range(Q.pack(lo))
            for key, value in cursor:
                index = lo + len(result)
                if key != Q.pack(index):
                    raise CorruptRecord("raft_log", index, "entry missing inside the log")
                entry = decode_entry(index, value)
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
        Whatever ``stage`` decided before is written in the same transaction.

        ``on_applied`` gets the outcomes before anything is written: they are decided by
        entries a majority already holds, so a caller may be answered while this node's fsync
        runs.

        Entries replace whatever the log held from ``entries[0].index`` on; applied entries
        are committed and must never be replaced (``InvariantViolation``). The results of the
        apply, the indexes and the new applied index are written with the log, so a restart
        never applies twice; committed entries already applied or staged are skipped."""
        if entries:
            self._check_append(entries)
        results = self._decide(committed, entries[-1].index if entries else self._cache.last_index)
        if results and on_applied is not None:
            on_applied(results)
        staged = self._staged
        if hard_state is None and staged is not None:
            hard_state = staged.hard_state
        if hard_state is None and not entries and staged is None:
            return results

        def write(txn: Txn) -> int | None:
            if entries:
                self._write_entries(txn, entries)
            if hard_state is not None:
                value = msgpack.packb([hard_state.term, hard_state.vote, hard_state.commit])
                txn.put(HARD_STATE_KEY, value, db=self._dbs.raft_state)
            return None if staged is None else self._write_staged(txn, staged)

        durable = bool(entries) or self._must_sync(hard_state)
        stream_count = write_txn(self._gate, self._env, write, durable=durable)
        cache = self._cache
        if entries:
            cache.last_index, cache.last_term = entries[-1].index, entries[-1].term
        if hard_state is not None:
            cache.hard_state = hard_state
        if staged is not None and stream_count is not None:
            writes = staged.writes
            cache.applied_index, cache.stream_count = staged.applied, stream_count
            cache.last_position, cache.digest = writes.last_position, writes.digest
            cache.clock_ms, cache.lease_token = writes.clock_ms, writes.lease_token
            self._staged = None
        return results

    def stage(
        self,
        hard_state: HardState | None,
        committed: Sequence[Entry],
        on_applied: Callable[[list[tuple[LogIndex, list[Outcome]]]], None] | None = None,
    ) -> list[tuple[LogIndex, list[Outcome]]]:
        """Decide the outcomes of committed entries now and write them, with ``hard_state``,
        in the next ``write_ready`` or ``flush``: a Ready that only applies would otherwise
        cost a commit and an fsync of its own. Reads see staged effects only once written;
        a crash loses them, and the restarted node applies those entries again from its log.
        ``hard_state`` may only move the commit index (see ``_must_sync``)."""
        if self._must_sync(hard_state):
            raise InvariantViolation("a new term or vote must be written durably, not staged")
        results = self._decide(committed, self._cache.last_index)
        if results and on_applied is not None:
            on_applied(results)
        if hard_state is not None:
            if self._staged is None:
                with self._gate.txn(self._env) as txn:
                    view = _TxnView(txn, self._dbs, self._cache)
                    self._staged = _Staged(WriteSet.over(view), self._cache.applied_index)
            self._staged.hard_state = hard_state
        return results

    def flush(self) -> None:
        """Write what ``stage`` decided, if anything."""
        self.write_ready(None, (), ())

    def staged(self) -> bool:
        return self._staged is not None

    def _must_sync(self, hard_state: HardState | None) -> bool:
        """The commit index is volatile state in Raft: a hard state that only moves it needs
        no power-loss durability (a restart relearns it); a new term or vote does."""
        previous = self._cache.hard_state
        return hard_state is not None and (hard_state.term, hard_state.vote) != (
            previous.term,
            previous.vote,
        )

    def _decide(
        self, committed: Sequence[Entry], last_index: LogIndex
    ) -> list[tuple[LogIndex, list[Outcome]]]:
        """Apply committed entries in memory, on top of what is written and what is staged;
        the staged write set then holds their effects until a write."""
        staged = self._staged
        through = staged.applied if staged is not None else self._cache.applied_index
        todo = [entry for entry in committed if entry.index > through]
        if not todo:
            return []
        self._check_apply(todo, through, last_index)
        results: list[tuple[LogIndex, list[Outcome]]] = []
        with self._gate.txn(self._env) as txn:
            view = _TxnView(txn, self._dbs, self._cache)
            if staged is None:
                staged = _Staged(WriteSet.over(view), self._cache.applied_index)
            for entry in todo:
                outcomes: list[Outcome] = []
                if entry.kind is EntryKind.NORMAL:
                    outcomes = apply_entry(view, staged.writes, entry.index, entry.data)
                results.append((entry.index, outcomes))
            staged.sids.update(view.ids)
        staged.applied = todo[-1].index
        self._staged = staged
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

    def _write_entries(self, txn: Txn, entries: Sequence[Entry]) -> None:
        first = entries[0].index
        cursor = txn.cursor(db=self._dbs.raft_log)
        if first <= self._cache.last_index and cursor.set_range(Q.pack(first)):
            while cursor.delete():
                pass
        cursor.putmulti(
            [(Q.pack(e.index), HEAD.pack(e.term, e.kind) + e.data) for e in entries],
            append=True,
        )

    def _check_apply(self, todo: list[Entry], through: LogIndex, last_index: LogIndex) -> None:
        first = through + 1
        if [entry.index for entry in todo] != list(range(first, first + len(todo))):
            raise InvariantViolation(f"applying entries that do not follow {first - 1} in order")
        if todo[-1].index > last_index:
            raise InvariantViolation(f"applying entry {todo[-1].index}, which is not persisted")

    def _write_staged(self, txn: Txn, staged: _Staged) -> int:
        """Write a staged apply: index rows, heads, outcomes, leases and the applied state
        in the meta table, all in ``txn``. Pure data, so a retried transaction writes the
        same. Returns the new stream count."""
        writes = staged.writes
        stream_count = self._write_applied(txn, writes, staged.sids)
        meta = self._dbs.meta
        txn.put(M_APPLIED, Q.pack(staged.applied), db=meta)
        txn.put(M_POSITION, Q.pack(writes.last_position), db=meta)
        txn.put(M_DIGEST, writes.digest, db=meta)
        txn.put(M_STREAMS, Q.pack(stream_count), db=meta)
        txn.put(M_CLOCK, Q.pack(writes.clock_ms), db=meta)
        txn.put(M_LEASE_TOKEN, Q.pack(writes.lease_token), db=meta)
        return stream_count

    def _write_applied(self, txn: Txn, writes: WriteSet, known: dict[str, bytes]) -> int:
        """Write the events' index rows, stream heads and outcomes; returns the stream count.
        ``known`` holds stream ids already looked up; any other stream is new."""
        dbs, count = self._dbs, self._cache.stream_count
        ids: dict[str, bytes] = {}
        for stream, version in writes.stream_versions.items():
            sid = known.get(stream)
            if sid is None:
                count += 1
                sid = Q.pack(count)
                txn.put(stream_key(stream), sid, db=dbs.stream_ids)
            ids[stream] = sid
            txn.put(sid, Q.pack(version), db=dbs.stream_heads)
        pack_q, pack_pos = Q.pack, POS.pack
        txn.cursor(db=dbs.positions).putmulti(
            [(pack_q(p), pack_pos(index, ordinal, v)) for p, _, v, index, ordinal in writes.events],
            append=True,
        )
        txn.cursor(db=dbs.stream_index).putmulti(
            [(ids[s] + pack_q(v), pack_q(p)) for p, s, v, _, _ in writes.events]
        )
        txn.cursor(db=dbs.requests).putmulti(
            [(rid, msgpack.packb(o.to_record())) for rid, o in writes.outcomes.items()]
        )
        txn.cursor(db=dbs.request_times).putmulti(
            [(pack_q(o.applied_ms) + rid, b"") for rid, o in writes.outcomes.items()]
        )
        for name, grant in writes.leases.items():
            if grant is None:
                txn.delete(name.encode(), db=dbs.leases)
            else:
                txn.put(name.encode(), encode_lease(grant), db=dbs.leases)
        self._drop_expired_requests(txn, writes.clock_ms - REQUEST_RETENTION_MS)
        return count

    def _drop_expired_requests(self, txn: Txn, cutoff_ms: int) -> None:
        """Delete request rows older than the retention, oldest first; a row re-decided
        since (an expired id used again) has a newer time and stays."""
        dbs = self._dbs
        cursor = txn.cursor(db=dbs.request_times)
        dropped = 0
        while dropped < EXPIRE_PER_TXN and cursor.first():
            key = cursor.key()
            if u64(key[:8], "request_times", key) >= cutoff_ms:
                break
            request_id = key[8:]
            raw = txn.get(request_id, db=dbs.requests)
            if raw is not None and decode_outcome(request_id, raw).applied_ms < cutoff_ms:
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

    def leases(self) -> list[LeaseGrant]:
        """Every lease granted and not released, expired ones included, by name."""
        with self._gate.txn(self._env) as txn:
            return [decode_lease(k, v) for k, v in txn.cursor(db=self._dbs.leases)]

    def clock_ms(self) -> int:
        return self._cache.clock_ms

    def request_outcome(self, request_id: bytes) -> Outcome | None:
        with self._gate.txn(self._env) as txn:
            return _TxnView(txn, self._dbs, self._cache).request_outcome(request_id)

    # -- reads (committed and applied only) ----------------------------------------------------
    def read_all(self, from_position: int = 1, limit: int | None = None) -> list[RecordedEvent]:
        """Events in position order from ``from_position`` (0 or less reads from the start)."""
        return self._reader.read_all(from_position, limit)

    def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of ``stream`` in version order from ``from_version``; [] if it is absent."""
        return self._reader.read_stream(stream, from_version, limit)

    def read_stream_backwards(
        self, stream: str, from_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of ``stream`` newest first from ``from_version`` (None: its last event)."""
        return self._reader.read_stream_backwards(stream, from_version, limit)


def _load_cache(txn: Txn, dbs: Dbs) -> _Cache:
    cache = _Cache()
    cursor = txn.cursor(db=dbs.raft_log)
    if cursor.last():
        index = LogIndex(u64(cursor.key(), "raft_log", cursor.key()))
        cache.last_index, cache.last_term = index, decode_entry(index, cursor.value()).term
    raw_state = txn.get(HARD_STATE_KEY, db=dbs.raft_state)
    if raw_state is not None:
        cache.hard_state = decode_hard_state(raw_state)

    def meta_u64(key: bytes) -> int:
        raw = txn.get(key, db=dbs.meta)
        return 0 if raw is None else u64(raw, "meta", key)

    cache.applied_index = LogIndex(meta_u64(M_APPLIED))
    cache.last_position = Position(meta_u64(M_POSITION))
    cache.stream_count = meta_u64(M_STREAMS)
    cache.clock_ms = meta_u64(M_CLOCK)
    cache.lease_token = meta_u64(M_LEASE_TOKEN)
    cache.digest = txn.get(M_DIGEST, db=dbs.meta) or INITIAL_DIGEST
    if len(cache.digest) != len(INITIAL_DIGEST):
        raise CorruptRecord("meta", M_DIGEST, "digest is not 32 bytes")
    if cache.applied_index > cache.last_index:
        raise CorruptRecord("meta", M_APPLIED, f"beyond the last entry {cache.last_index}")
    return cache
