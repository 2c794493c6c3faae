"""The applied state in LMDB: what the state machine reads (``TxnView``), what one apply
writes (index rows, stream heads, outcomes, leases, tracking records, and the applied index
with them), and
the in-memory copy of the meta table (``Cache``) that always matches what is on disk."""

from __future__ import annotations

import attrs

from eventlog.errors import CorruptRecord, InvariantViolation
from eventlog.raft.records import EMPTY_HARD_STATE, Entry, HardState
from eventlog.records import LeaseGrant
from eventlog.security.access import DEFAULT_ACCESS, AccessState
from eventlog.state.machine import INITIAL_DIGEST, REQUEST_RETENTION_MS, WriteSet
from eventlog.state.outcomes import Outcome
from eventlog.store import sealed
from eventlog.store.codecs import (
    POS,
    Q,
    decode_entry,
    decode_hard_state,
    decode_lease,
    decode_outcome,
    encode_lease,
    encode_outcome,
    stream_key,
    u64,
)
from eventlog.store.layout import (
    HARD_STATE_KEY,
    M_ACCESS,
    M_APPLIED,
    M_CLOCK,
    M_CLUSTER,
    M_DIGEST,
    M_INCARNATION,
    M_LEASE_TOKEN,
    M_POSITION,
    M_STREAMS,
    Dbs,
    Txn,
)
from eventlog.types import LogIndex, Position, Term

__all__ = [
    "EXPIRE_PER_TXN",
    "Cache",
    "Staged",
    "TxnView",
    "check_apply",
    "load_cache",
    "write_staged",
]

EXPIRE_PER_TXN = 4096
"""Expired request rows dropped per apply transaction, at most: keeps each one short."""


@attrs.define
class Cache:
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
    cluster_id: str = ""
    incarnation: str = ""
    access: AccessState = DEFAULT_ACCESS


@attrs.define
class TxnView:
    """The ``StateView`` of the state machine over an open transaction; remembers the stream
    ids it looked up, so writing the apply's results does not look them up again."""

    txn: Txn
    dbs: Dbs
    cache: Cache
    ids: dict[str, bytes] = attrs.field(factory=dict)

    def stream_version(self, stream: str) -> int:
        sid = sealed.get(self.txn, self.dbs.stream_ids, "stream_ids", stream_key(stream))
        if sid is None:
            return 0
        self.ids[stream] = sid
        head = sealed.get(self.txn, self.dbs.stream_heads, "stream_heads", sid)
        return u64(head, "stream_heads", sid)

    def request_outcome(self, request_id: bytes) -> Outcome | None:
        raw = sealed.get(self.txn, self.dbs.requests, "requests", request_id)
        return None if raw is None else decode_outcome(request_id, raw)

    def last_position(self) -> Position:
        return self.cache.last_position

    def digest(self) -> bytes:
        return self.cache.digest

    def clock_ms(self) -> int:
        return self.cache.clock_ms

    def lease(self, name: str) -> LeaseGrant | None:
        key = name.encode()
        raw = sealed.get(self.txn, self.dbs.leases, "leases", key)
        return None if raw is None else decode_lease(key, raw)

    def lease_token(self) -> int:
        return self.cache.lease_token

    def cluster_id(self) -> str:
        return self.cache.cluster_id

    def access(self) -> AccessState:
        return self.cache.access

    def tracking(self, name: str) -> int | None:
        if self.dbs.tracking is None:  # a store made before tracking, opened to read
            return None
        key = name.encode()
        raw = sealed.get(self.txn, self.dbs.tracking, "tracking", key)
        return None if raw is None else u64(raw, "tracking", key)


@attrs.define
class Staged:
    """Outcomes decided over the last commit but not written yet."""

    writes: WriteSet
    applied: LogIndex
    """The last committed entry whose effects ``writes`` holds."""
    hard_state: HardState | None = None
    sids: dict[str, bytes] = attrs.field(factory=dict)
    """Ids of the existing streams the decisions looked up: nothing writes stream ids until
    this is written, so they still hold then."""

    def written(self, cache: Cache, stream_count: int) -> None:
        """Bring ``cache`` to what writing this left on disk."""
        writes = self.writes
        cache.applied_index, cache.stream_count = self.applied, stream_count
        cache.last_position, cache.digest = writes.last_position, writes.digest
        cache.clock_ms, cache.lease_token = writes.clock_ms, writes.lease_token
        cache.cluster_id, cache.access = writes.cluster_id, writes.access


def check_apply(todo: list[Entry], through: LogIndex, last_index: LogIndex) -> None:
    """Committed entries apply in order, each once, and only once they are in the log."""
    first = through + 1
    if [entry.index for entry in todo] != list(range(first, first + len(todo))):
        raise InvariantViolation(f"applying entries that do not follow {first - 1} in order")
    if todo[-1].index > last_index:
        raise InvariantViolation(f"applying entry {todo[-1].index}, which is not persisted")


def write_staged(txn: Txn, dbs: Dbs, staged: Staged, stream_count: int, access: AccessState) -> int:
    """Write a staged apply: index rows, heads, outcomes, leases and the applied state in the
    meta table, all in ``txn``; the auth store only if it is another than ``access`` (what
    is on disk). Pure data, so a retried transaction writes the same. Returns the new stream
    count."""
    writes = staged.writes
    stream_count = _write_applied(txn, dbs, writes, staged.sids, stream_count)
    if writes.access is not access:
        sealed.put(txn, dbs.meta, M_ACCESS, writes.access.encode())
    sealed.put_many(
        txn.cursor(db=dbs.meta),
        [
            (M_APPLIED, Q.pack(staged.applied)),
            (M_POSITION, Q.pack(writes.last_position)),
            (M_DIGEST, writes.digest),
            (M_STREAMS, Q.pack(stream_count)),
            (M_CLOCK, Q.pack(writes.clock_ms)),
            (M_LEASE_TOKEN, Q.pack(writes.lease_token)),
            (M_CLUSTER, writes.cluster_id.encode()),
        ],
    )
    return stream_count


def _write_applied(
    txn: Txn, dbs: Dbs, writes: WriteSet, known: dict[str, bytes], count: int
) -> int:
    """Write the events' index rows, stream heads and outcomes; returns the stream count.
    ``known`` holds stream ids already looked up; any other stream is new."""
    ids: dict[str, bytes] = {}
    for stream, version in writes.stream_versions.items():
        sid = known.get(stream)
        if sid is None:
            count += 1
            sid = Q.pack(count)
            sealed.put(txn, dbs.stream_ids, stream_key(stream), sid)
        ids[stream] = sid
        sealed.put(txn, dbs.stream_heads, sid, Q.pack(version))
    pack_q, pack_pos = Q.pack, POS.pack
    sealed.put_many(
        txn.cursor(db=dbs.positions),
        [(pack_q(p), pack_pos(index, ordinal, v)) for p, _, v, index, ordinal in writes.events],
        append=True,
    )
    sealed.put_many(
        txn.cursor(db=dbs.stream_index),
        [(ids[s] + pack_q(v), pack_q(p)) for p, s, v, _, _ in writes.events],
    )
    sealed.put_many(
        txn.cursor(db=dbs.requests),
        [(rid, encode_outcome(o)) for rid, o in writes.outcomes.items()],
    )
    sealed.put_many(
        txn.cursor(db=dbs.request_times),
        [(pack_q(o.applied_ms) + rid, b"") for rid, o in writes.outcomes.items()],
    )
    for name, grant in writes.leases.items():
        if grant is None:
            txn.delete(name.encode(), db=dbs.leases)
        else:
            sealed.put(txn, dbs.leases, name.encode(), encode_lease(grant))
    for name, position in writes.tracking.items():
        sealed.put(txn, dbs.tracking, name.encode(), pack_q(position))
    _drop_expired_requests(txn, dbs, writes.clock_ms - REQUEST_RETENTION_MS)
    return count


def _drop_expired_requests(txn: Txn, dbs: Dbs, cutoff_ms: int) -> None:
    """Delete request rows older than the retention, oldest first; a row re-decided since
    (an expired id used again) has a newer time and stays."""
    cursor = txn.cursor(db=dbs.request_times)
    dropped = 0
    while dropped < EXPIRE_PER_TXN and cursor.first():
        key = cursor.key()
        if u64(key[:8], "request_times", key) >= cutoff_ms:
            break
        request_id = key[8:]
        raw = sealed.get(txn, dbs.requests, "requests", request_id)
        if raw is not None and decode_outcome(request_id, raw).applied_ms < cutoff_ms:
            txn.delete(request_id, db=dbs.requests)
        cursor.delete()
        dropped += 1


def load_cache(txn: Txn, dbs: Dbs) -> Cache:
    """What the last commit left: the log's end, the hard state and the applied state."""
    cache = Cache()
    cursor = txn.cursor(db=dbs.raft_log)
    if cursor.last():
        index = LogIndex(u64(cursor.key(), "raft_log", cursor.key()))
        cache.last_index, cache.last_term = index, decode_entry(index, cursor.value()).term
    raw_state = sealed.get(txn, dbs.raft_state, "raft_state", HARD_STATE_KEY)
    if raw_state is not None:
        cache.hard_state = decode_hard_state(raw_state)

    def meta(key: bytes) -> bytes | None:
        return sealed.get(txn, dbs.meta, "meta", key)

    def meta_u64(key: bytes) -> int:
        raw = meta(key)
        return 0 if raw is None else u64(raw, "meta", key)

    cache.applied_index = LogIndex(meta_u64(M_APPLIED))
    cache.last_position = Position(meta_u64(M_POSITION))
    cache.stream_count = meta_u64(M_STREAMS)
    cache.clock_ms = meta_u64(M_CLOCK)
    cache.lease_token = meta_u64(M_LEASE_TOKEN)
    cache.cluster_id = (meta(M_CLUSTER) or b"").decode(errors="replace")
    cache.incarnation = (meta(M_INCARNATION) or b"").decode(errors="replace")
    cache.digest = meta(M_DIGEST) or INITIAL_DIGEST
    raw_access = meta(M_ACCESS)
    cache.access = DEFAULT_ACCESS if raw_access is None else AccessState.decode(raw_access)
    if len(cache.digest) != len(INITIAL_DIGEST):
        raise CorruptRecord("meta", M_DIGEST, "digest is not 32 bytes")
    if cache.applied_index > cache.last_index:
        raise CorruptRecord("meta", M_APPLIED, f"beyond the last entry {cache.last_index}")
    return cache
