"""LMDB storage of one node: the Raft log, the hard state, and the applied state with indexes.

One environment per node and one write transaction per Ready (``write_ready``): the Ready's
entries and hard state, and the results of applying its committed entries, commit together.
LMDB makes a commit atomic and (unless opened unsafe) durable, which gives the two rules
recovery needs: entries and hard state are on disk before the node answers, and the indexes,
``applied_index``, ``last_position`` and ``digest`` move together, so a restart never applies
an entry twice and never rebuilds an index. The tables are in ``layout`` and their records in
``codecs``; the log's rules in ``raftlog``, the applied state's in ``applied``, reads in
``reads``.

Threading: reads may run in any thread while one thread writes; ``Gate`` keeps every
transaction out while the map grows. The in-memory cache is updated only after a commit, so
what it reports is always on disk.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import lmdb

from eventlog.errors import DataDirError
from eventlog.logs import library_logger
from eventlog.protocol.reads import READ_PAGE_BYTES
from eventlog.raft.membership import Membership
from eventlog.raft.records import Entry, EntryKind, HardState
from eventlog.records import EventFilter, LeaseGrant, Manifest, Page, RecordedEvent
from eventlog.security.access import AccessState
from eventlog.state.machine import WriteSet, apply_entry
from eventlog.state.outcomes import Outcome
from eventlog.store import copies, members, raftlog, sealed
from eventlog.store.applied import Cache, Staged, TxnView, check_apply, load_cache, write_staged
from eventlog.store.codecs import decode_lease, encode_hard_state
from eventlog.store.layout import (
    DB_NAMES,
    HARD_STATE_KEY,
    Dbs,
    Gate,
    Txn,
    check_format,
    check_readable,
    init_or_check,
    open_existing,
    prepare_dir,
    write_txn,
)
from eventlog.store.ownership import DirLock
from eventlog.store.preflight import check_data_file
from eventlog.store.reads import EventReader
from eventlog.types import LogIndex, Position, Term

__all__ = [
    "RECENT_DIGESTS",
    "Applied",
    "LmdbStorage",
]

RECENT_DIGESTS = 4096
"""Entries whose resulting digest a store keeps in memory, for members to compare."""

Applied = list[tuple[LogIndex, list[Outcome]]]
"""The outcomes of each applied entry, by log index, in log order."""


@attrs.define
class LmdbStorage:
    """The node's disk: the core's read ports (``LogStorage``, ``StateStorage``), the host's
    writes (``write_ready``) and the committed-and-applied reads."""

    path: Path
    _env: Any
    _gate: Gate
    _dbs: Dbs
    _cache: Cache
    _lock: DirLock | None
    """Held by a writable open for its whole life; None when opened read-only."""
    _reader: EventReader = attrs.field(init=False)
    _staged: Staged | None = attrs.field(default=None, init=False)
    _held_back: Applied = attrs.field(factory=list, init=False)
    """Outcomes of entries committed in the write that persists them, decided but not yet
    answered: a caller hears of them only once that write is durable."""
    _recent: collections.OrderedDict[int, tuple[int, bytes]] = attrs.field(
        factory=collections.OrderedDict, init=False
    )
    """``index -> (position, digest)`` after each of the last applied entries, as decided."""

    def __attrs_post_init__(self) -> None:
        self._reader = EventReader(self._env, self._gate, self._dbs)

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        cluster_id: str | None,
        node_id: int,
        sync: bool = True,
        map_size: int = 1 << 30,
        fresh_cluster_id: str = "",
        base: tuple[LogIndex, Membership] | None = None,
    ) -> LmdbStorage:
        """Create the store, or reopen it after checking it belongs to this node and (if
        ``cluster_id`` pins one) this cluster, holding the directory's lock until ``close``
        (``DataDirError`` if another holds it). A fresh store belongs to ``cluster_id``, else
        to ``fresh_cluster_id``; if that is empty too, the cluster is named later, by the
        first request naming it that the store applies. A store that records no configuration
        to start from records ``base`` (later opens keep what it records).

        ``sync=False`` skips fsync on commit: fast, and unsafe (a power loss can lose
        acknowledged entries); for tests and benchmarks only."""
        directory = prepare_dir(Path(path))
        lock = DirLock.take(directory)
        try:
            env = _open_env(directory, map_size=map_size, sync=sync, readonly=False)
            gate = Gate()
            try:

                def init(txn: Txn) -> Dbs:
                    dbs = init_or_check(env, txn, directory, cluster_id, node_id, fresh_cluster_id)
                    members.prepare(txn, dbs, base)
                    return dbs

                dbs = write_txn(gate, env, init)
                with gate.txn(env) as txn:
                    cache = load_cache(txn, dbs)
            except BaseException:
                env.close()
                raise
        except BaseException:
            lock.release()
            raise
        if not sync:
            library_logger(__name__).warning(
                "unsafe_no_fsync", path=str(directory), node_id=node_id
            )
        return cls(directory, env, gate, dbs, cache, lock)

    @classmethod
    def open_readonly(cls, path: str | Path) -> LmdbStorage:
        """Read a store beside the process that writes it (a live node): committed events
        only, and never a byte written, so no lock is taken. ``refresh`` catches up with
        what its writer has applied since."""
        directory = check_readable(Path(path))
        env = _open_env(directory, map_size=0, sync=False, readonly=True)
        gate = Gate()
        try:
            dbs = open_existing(env, directory)
            with gate.txn(env) as txn:
                check_format(txn, dbs, directory)
                cache = load_cache(txn, dbs)
        except BaseException:
            env.close()
            raise
        return cls(directory, env, gate, dbs, cache, None)

    @property
    def cluster_id(self) -> str:
        """The cluster this store belongs to; empty until a cluster started without an id is
        named by its first leader (through the log)."""
        return self._cache.cluster_id

    @property
    def access(self) -> AccessState:
        """The users and roles, as of the last apply written (read on every request)."""
        return self._cache.access

    @property
    def incarnation(self) -> str:
        """This store's id, made when it was created: another store under the same node id
        (an emptied or replaced directory) has another."""
        return self._cache.incarnation

    @property
    def readonly(self) -> bool:
        return self._lock is None

    def refresh(self) -> None:
        """Reload what the writer's last commit left (for a read-only open)."""
        with self._gate.txn(self._env) as txn:
            self._cache = load_cache(txn, self._dbs)

    def close(self) -> None:
        self._env.close()
        if self._lock is not None:
            self._lock.release()

    def used_bytes(self) -> int:
        """Bytes of ``data.mdb`` in use: up to its last page (LMDB reuses freed pages
        below it), what a storage quota is held against."""
        pages: int = self._env.info()["last_pgno"] + 1
        page_size: int = self._env.stat()["psize"]
        return pages * page_size

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
        raftlog.check_unavailable(index, LogIndex(index + 1), self._cache.last_index)
        with self._gate.txn(self._env) as txn:
            return raftlog.read_entry(txn, self._dbs, index).term

    def entries(self, lo: LogIndex, hi: LogIndex, max_bytes: int | None = None) -> list[Entry]:
        """Entries in ``[lo, hi)``; stops once over ``max_bytes`` but returns at least one."""
        raftlog.check_unavailable(lo, hi, self._cache.last_index)
        with self._gate.txn(self._env) as txn:
            return raftlog.read_entries(txn, self._dbs, lo, hi, max_bytes)

    def hard_state(self) -> HardState:
        return self._cache.hard_state

    def config_entries(self) -> list[Entry]:
        """The configuration entries of the log, from their index (``store.members``)."""
        with self._gate.txn(self._env) as txn:
            return members.read_config_entries(txn, self._dbs)

    def copy_to(self, fd: int) -> Manifest:
        """Write a consistent copy of the store to ``fd`` (a file, or a pipe someone reads in
        another thread) while the node goes on writing; returns what it holds. The copy holds
        a read transaction, during which the map cannot grow: it is grown first if it is
        over half full, so the writer is not kept waiting for room while the copy runs."""
        if not self.readonly and 2 * self.used_bytes() > self.map_size():
            self._gate.grow(self._env)
        with self._gate.txn(self._env) as txn:
            manifest = copies.manifest_of(txn, self._dbs)
            self._env.copyfd(fd, compact=True, txn=txn)
        return manifest

    def base_membership(self) -> tuple[LogIndex, Membership] | None:
        """The configuration the cluster started from, and the index it holds from."""
        with self._gate.txn(self._env) as txn:
            return members.read_base(txn, self._dbs)

    # -- host writes ---------------------------------------------------------------------------
    def write_ready(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        committed: Sequence[Entry],
        *,
        on_applied: Callable[[Applied], None] | None = None,
    ) -> Applied:
        """Persist a Ready and apply its committed entries in one transaction, durable once
        it returns (every LMDB commit is, unless the store was opened without fsync: what a
        Ready with ``must_sync`` needs, and one without costs no more than its commit).
        Whatever ``stage`` decided before is written in the same transaction.

        ``on_applied`` gets the outcomes before anything is written when they are decided by
        entries a majority already holds, so a caller may be answered while this node's fsync
        runs; when they include entries of this write (a leader alone commits its own), only
        once the write is durable.

        Entries replace whatever the log held from ``entries[0].index`` on; applied entries
        are committed and must never be replaced (``InvariantViolation``). The results of the
        apply, the indexes and the new applied index are written with the log, so a restart
        never applies twice; committed entries already applied or staged are skipped."""
        cache = self._cache
        if entries:
            raftlog.check_append(entries, cache.last_index, cache.applied_index)
        results = self._decide(committed, entries[-1].index if entries else cache.last_index)
        held_back = bool(entries and committed and committed[-1].index >= entries[0].index)
        if held_back:  # kept until a write lands: one that fails is retried with the same Ready
            self._held_back += results
        elif results and on_applied is not None:
            on_applied(results)
        staged = self._staged
        if hard_state is None and staged is not None:
            hard_state = staged.hard_state
        if hard_state is None and not entries and staged is None:
            return results

        def write(txn: Txn) -> int | None:
            if entries:
                raftlog.write_entries(txn, self._dbs, entries, cache.last_index)
            if hard_state is not None:
                state = encode_hard_state(hard_state)
                sealed.put(txn, self._dbs.raft_state, HARD_STATE_KEY, state)
            if staged is None:
                return None
            return write_staged(txn, self._dbs, staged, cache.stream_count, cache.access)

        stream_count = write_txn(self._gate, self._env, write)
        if entries:
            cache.last_index, cache.last_term = entries[-1].index, entries[-1].term
        if hard_state is not None:
            cache.hard_state = hard_state
        if staged is not None and stream_count is not None:
            staged.written(cache, stream_count)
            self._staged = None
        if held_back:
            results, self._held_back = self._held_back, []
            if results and on_applied is not None:
                on_applied(results)
        return results

    def stage(
        self,
        hard_state: HardState | None,
        committed: Sequence[Entry],
        on_applied: Callable[[Applied], None] | None = None,
    ) -> Applied:
        """For a Ready that need not be synced (``not ready.must_sync``): decide the outcomes
        of its committed entries now and write them, with ``hard_state``, in the next
        ``write_ready`` or ``flush``, since a Ready that only applies would otherwise cost a
        commit of its own. Reads see staged effects only once written; a crash loses them,
        and the restarted node applies those entries again from its log."""
        results = self._decide(committed, self._cache.last_index)
        if results and on_applied is not None:
            on_applied(results)
        if hard_state is not None:
            if self._staged is None:
                with self._gate.txn(self._env) as txn:
                    view = TxnView(txn, self._dbs, self._cache)
                    self._staged = Staged(WriteSet.over(view), self._cache.applied_index)
            self._staged.hard_state = hard_state
        return results

    def flush(self) -> None:
        """Write what ``stage`` decided, if anything (it needs no fsync: the log replays it)."""
        self.write_ready(None, (), ())

    def staged(self) -> bool:
        return self._staged is not None

    def _decide(self, committed: Sequence[Entry], last_index: LogIndex) -> Applied:
        """Apply committed entries in memory, on top of what is written and what is staged;
        the staged write set then holds their effects until a write."""
        staged = self._staged
        through = staged.applied if staged is not None else self._cache.applied_index
        todo = [entry for entry in committed if entry.index > through]
        if not todo:
            return []
        check_apply(todo, through, last_index)
        results: Applied = []
        with self._gate.txn(self._env) as txn:
            view = TxnView(txn, self._dbs, self._cache)
            if staged is None:
                staged = Staged(WriteSet.over(view), self._cache.applied_index)
            recent = self._recent
            for entry in todo:
                outcomes: list[Outcome] = []
                if entry.kind is EntryKind.NORMAL:
                    outcomes = apply_entry(view, staged.writes, entry.index, entry.data)
                results.append((entry.index, outcomes))
                recent[entry.index] = (staged.writes.last_position, staged.writes.digest)
            while len(recent) > RECENT_DIGESTS:
                recent.popitem(last=False)
            staged.sids.update(view.ids)
        staged.applied = todo[-1].index
        self._staged = staged
        return results

    # -- applied state -------------------------------------------------------------------------
    def applied_index(self) -> LogIndex:
        return self._cache.applied_index

    def last_position(self) -> Position:
        return self._cache.last_position

    def digest(self) -> bytes:
        return self._cache.digest

    def digest_after(self, index: int) -> tuple[int, bytes] | None:
        """``(position, digest)`` of the history after entry ``index``, if it was one of the
        last ``RECENT_DIGESTS`` entries applied since the store was opened."""
        return self._recent.get(index)

    def last_digest(self) -> tuple[int, int, bytes] | None:
        """``(index, position, digest)`` after the last entry applied since opening."""
        try:
            index = next(reversed(self._recent))
        except (StopIteration, RuntimeError):  # none yet, or the writer is adding one
            return None
        position, digest = self._recent[index]
        return index, position, digest

    def stream_version(self, stream: str) -> int:
        with self._gate.txn(self._env) as txn:
            return TxnView(txn, self._dbs, self._cache).stream_version(stream)

    def leases(self) -> list[LeaseGrant]:
        """Every lease ever granted, expired and released ones included, by name."""
        with self._gate.txn(self._env) as txn:
            rows = sealed.items(txn.cursor(db=self._dbs.leases), "leases")
            return [decode_lease(k, v) for k, v in rows]

    def tracking(self, name: str) -> int | None:
        """The position tracking record ``name`` holds, as of the last apply written."""
        with self._gate.txn(self._env) as txn:
            return TxnView(txn, self._dbs, self._cache).tracking(name)

    def clock_ms(self) -> int:
        return self._cache.clock_ms

    def request_outcome(self, request_id: bytes) -> Outcome | None:
        with self._gate.txn(self._env) as txn:
            return TxnView(txn, self._dbs, self._cache).request_outcome(request_id)

    # -- reads (committed and applied only) ----------------------------------------------------
    def read_all(self, from_position: int = 1, limit: int | None = None) -> list[RecordedEvent]:
        """Events in position order from ``from_position`` (0 or less reads from the start)."""
        return self._reader.read_all(from_position, limit)

    def read_page(
        self,
        from_position: int = 1,
        limit: int | None = None,
        filter: EventFilter | None = None,
        max_bytes: int = READ_PAGE_BYTES,
    ) -> Page:
        """What ``filter`` keeps from ``from_position`` on, a bounded page (``EventReader``)."""
        return self._reader.read_page(from_position, limit, filter, max_bytes)

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


def _open_env(directory: Path, *, map_size: int, sync: bool, readonly: bool) -> Any:
    check_data_file(directory)
    try:
        return lmdb.open(
            str(directory),
            map_size=map_size,
            max_dbs=len(DB_NAMES),
            sync=sync,
            readonly=readonly,
            # Every commit is durable when it returns: LMDB fsyncs its pages, then writes
            # the meta page through a descriptor opened O_DSYNC, which costs less than a
            # second fsync after the commit.
            metasync=sync,
        )
    except lmdb.Error as error:
        raise DataDirError(directory, f"cannot open the LMDB environment: {error}") from error
