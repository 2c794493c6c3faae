"""``open_embedded(path)``: the event store in-process, one node, no network, same disk format.

It is a one-voter Raft group driven synchronously: an append is proposed, persisted (fsync),
committed and applied before the call returns, exactly as on a cluster node, so a directory
written here can later be served by ``eventraft node --id 1``. Appends from many threads at
once share batches: while one is being written, the others queue, and the next writer takes
them all into one transaction and one fsync, each with its own expected version and answer.
Reads take ``min_position`` as a cluster client's do and need not wait for it: this store is
its own leader, so every read already sees every append made through it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

from eventlog.errors import InvalidRequest, InvariantViolation
from eventlog.logs import library_logger
from eventlog.node.status import reader_status, status_of
from eventlog.protocol import reads, requests
from eventlog.protocol.hello import new_cluster_id
from eventlog.raft.config import RaftConfig
from eventlog.raft.core import RaftCore
from eventlog.raft.ready import Role
from eventlog.records import (
    ANY,
    AppendResult,
    EventFilter,
    LeaseGrant,
    NewEvent,
    NodeStatus,
    Page,
    RecordedEvent,
    Tracking,
    tracking_covers,
)
from eventlog.state.batch import encode_batch
from eventlog.state.clock import LeaderClock
from eventlog.state.outcomes import Outcome
from eventlog.store.reads import Tail
from eventlog.store.storage import LmdbStorage
from eventlog.types import LogIndex, NodeId

__all__ = [
    "EmbeddedStore",
    "open_embedded",
]

READONLY_POLL_SECONDS = 0.02
"""How often a read-only subscription looks for what another process appended."""
GROUP_BYTES = 4 * requests.DEFAULT_MAX_APPEND_BYTES
"""The most one group commit takes (by the requests' sizes); the rest goes in the next."""


@attrs.define
class _Pending:
    """One caller's request, waiting to be committed in a group with others'."""

    request: requests.CheckedRequest
    outcome: Outcome | None = None
    failure: BaseException | None = None
    """What failed the whole group (the store closed, the disk)."""
    done: bool = False


class EmbeddedStore:
    """The event log of one node in this process: the methods of ``eventlog.api.EventLog``."""

    def __init__(self, path: str | Path, *, sync: bool = True, readonly: bool = False) -> None:
        self.logger = library_logger(__name__).bind(node_id=1)
        self._lock = threading.Lock()
        self._appended = threading.Condition(self._lock)
        self._turns = threading.Condition(threading.Lock())
        """Guards ``_queue`` and ``_committing`` (held for a list operation only, never across
        a write); callers wait on it for their request to be done, or for their turn to write.
        Waiting here rather than on ``_lock`` matters: a caller whose request another wrote
        returns at once, instead of taking the write lock in turn only to find it done."""
        self._queue: list[_Pending] = []
        self._committing = False
        self._closed = False
        self.core: RaftCore | None = None
        self._clock = LeaderClock()
        if readonly:
            self.storage = LmdbStorage.open_readonly(path)
            return
        self.storage = LmdbStorage.open(
            path, cluster_id=None, node_id=1, sync=sync, fresh_cluster_id=new_cluster_id()
        )
        config = RaftConfig(node_id=NodeId(1), voters=(NodeId(1),))
        applied = self.storage.applied_index()
        try:
            self.core = RaftCore.open(config, self.storage, random.Random(), self.logger, applied)
            with self._lock:
                self.core.campaign()
                self._drive(self.core)
                if self.core.role is not Role.LEADER:
                    raise InvariantViolation("a single-node store failed to elect itself")
                self._clock.lead(int(self.core.term), self.storage.clock_ms(), _elapsed_ms())
        except BaseException:
            self.storage.close()
            raise

    def _drive(self, core: RaftCore) -> dict[LogIndex, list[Outcome]]:
        """The Ready loop, synchronously: persist and apply, advance, until nothing is left."""
        outcomes: dict[LogIndex, list[Outcome]] = {}
        while core.has_ready():
            rd = core.ready()
            outcomes.update(self.storage.write_ready(rd.hard_state, rd.entries, rd.committed))
            core.advance(rd)
        return outcomes

    # -- the contract --------------------------------------------------------------------------
    def append(
        self,
        stream: str,
        events: Iterable[NewEvent],
        expected_version: int = ANY,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        return self.append_multi(
            [(stream, events, expected_version)], request_id=request_id, tracking=tracking
        )

    def append_multi(
        self,
        appends: Iterable[tuple[str, Iterable[NewEvent], int]],
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        """All or nothing, each stream with its own expected version, and with ``tracking``
        if given (no streams at all: the tracking record alone)."""
        request = requests.new_request(appends, request_id, tracking)
        requests.check_size(request, requests.DEFAULT_MAX_APPEND_BYTES)
        result = self._execute(request)
        assert isinstance(result, AppendResult)
        return result

    def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant:
        """Grant or renew ``name`` to ``owner`` for ``ttl`` seconds; ``LeaseHeld`` if another
        owner holds it."""
        request = requests.acquire_lease_request(name, owner, ttl, checkpoint)
        result = self._execute(request)
        assert isinstance(result, LeaseGrant)
        return result

    def release_lease(self, name: str, owner: str, token: int) -> None:
        request = requests.release_lease_request(name, owner, token)
        self._execute(request)

    def leases(self) -> list[LeaseGrant]:
        self._check_open()
        return self.storage.leases()

    def max_tracking(self, name: str, *, min_position: int | None = None) -> int | None:
        self._check_open()
        reads.check_min_position(min_position)
        return self.storage.tracking(requests.check_tracking_name(name))

    def has_tracking(self, name: str, position: int, *, min_position: int | None = None) -> bool:
        return tracking_covers(self.max_tracking(name, min_position=min_position), position)

    def _execute(self, request: requests.CheckedRequest) -> AppendResult | LeaseGrant:
        """Queue one request and see it applied: whoever holds the lock takes every request
        queued meanwhile into one batch, one write transaction and one fsync (group commit),
        and hands each caller its own outcome."""
        pending = _Pending(request)
        with self._turns:
            self._queue.append(pending)
            while not pending.done and self._committing:
                self._turns.wait()
            commits = not pending.done
            self._committing = self._committing or commits
        if commits:  # this caller writes the group, its own request and whatever is queued
            try:
                with self._lock:
                    while not pending.done:
                        self._commit_queued()
            finally:
                with self._turns:
                    self._committing = False
                    self._turns.notify_all()
        if pending.failure is not None:
            raise pending.failure
        outcome = pending.outcome
        assert outcome is not None
        if outcome.error is not None:
            raise outcome.error
        result = outcome.result
        assert isinstance(result, AppendResult | LeaseGrant), "a caller's request"
        return result

    def _commit_queued(self) -> None:
        """Propose what is queued (up to ``GROUP_BYTES``) as one batch and apply it; every
        request of it is done once this returns, with its outcome or the batch's failure."""
        with self._turns:
            taken, size = 0, 0
            for pending in self._queue:
                if taken and size + pending.request.size > GROUP_BYTES:
                    break
                taken, size = taken + 1, size + pending.request.size
            group, self._queue = self._queue[:taken], self._queue[taken:]
        try:
            self._check_open()
            core = self._writable()
            cluster_ms = self._clock.stamp(int(core.term), self.storage.clock_ms(), _elapsed_ms())
            data = encode_batch(
                _now_ms(),
                cluster_ms,
                [p.request.encoded for p in group],
                [p.request.events for p in group],
            )
            proposal = core.propose(data)
            outcomes = self._drive(core)[proposal.last_index]
            for pending, outcome in zip(group, outcomes, strict=True):
                pending.outcome = outcome
        except BaseException as failure:
            for pending in group:  # each caller raises it in its own thread
                pending.failure = failure
            if not isinstance(failure, Exception):
                raise  # an interruption of this thread goes on here too
        finally:
            for pending in group:
                pending.done = True
            self._appended.notify_all()

    def read_stream(
        self,
        stream: str,
        from_version: int = 1,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        self._check_open()
        read = reads.ReadStream(stream=stream, from_version=from_version, limit=limit)
        reads.check_min_position(min_position)
        return self.storage.read_stream(read.stream, read.from_version, read.limit)

    def read_stream_backwards(
        self,
        stream: str,
        from_version: int | None = None,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        self._check_open()
        read = reads.ReadStreamBackwards(stream=stream, from_version=from_version, limit=limit)
        reads.check_min_position(min_position)
        return self.storage.read_stream_backwards(read.stream, read.from_version, read.limit)

    def read_all(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        self._check_open()
        read = reads.ReadPage(from_position=from_position, limit=limit, filter=filter)
        reads.check_min_position(min_position)
        if read.filter is None:
            return self.storage.read_all(read.from_position, read.limit)
        events: list[RecordedEvent] = []
        start: int | None = read.from_position
        while start is not None:
            wanted = None if read.limit is None else read.limit - len(events)
            page = self.storage.read_page(start, reads.page_limit(wanted), read.filter)
            events += page.events
            start = reads.next_filtered(page, read.limit, len(events))
        return events

    def read_page(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> Page:
        """One bounded read through ``filter``: what it kept, and how far it looked."""
        self._check_open()
        read = reads.ReadPage(from_position=from_position, limit=limit, filter=filter)
        reads.check_min_position(min_position)
        return self.storage.read_page(read.from_position, read.limit, read.filter)

    def head(self) -> int:
        """The position of the last event."""
        self._check_open()
        if self.core is None:
            self.storage.refresh()
        return int(self.storage.last_position())

    def subscribe(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> Iterator[RecordedEvent]:
        """Committed events from ``from_position`` on, then each new one as it is appended."""
        for page in self.subscribe_pages(from_position, filter=filter):
            yield from page.events

    def subscribe_batches(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> Iterator[list[RecordedEvent]]:
        """The same events, in batches of up to 1,000: whatever is there when asked."""
        for page in self.subscribe_pages(from_position, filter=filter):
            if page.events:
                yield page.events

    def subscribe_pages(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> Iterator[Page]:
        """The same, as pages: a filtered subscription also says how far it has looked when
        a stretch of the log held nothing for it."""
        read = reads.Subscribe(from_position=from_position, filter=filter)
        tail = Tail(self.storage.read_page, read.from_position, read.filter)
        while not self._closed:
            page, due = tail.next_page()
            if due:
                yield page
            if page.at_end:
                self._wait_for_position(tail.position)

    def _wait_for_position(self, position: int) -> None:
        if self.core is None:  # another process appends: look again after a while
            with self._lock:
                self._appended.wait(READONLY_POLL_SECONDS)
            return
        with self._lock:
            self._appended.wait_for(
                lambda: self._closed or self.storage.last_position() >= position
            )

    def status(self) -> NodeStatus:
        self._check_open()
        if self.core is None:
            self.storage.refresh()
            return reader_status(self.storage)
        return status_of(self.core, self.storage)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._appended.notify_all()
        self.storage.close()

    def _check_open(self) -> None:
        if self._closed:
            raise InvariantViolation("the embedded store is closed")

    def _writable(self) -> RaftCore:
        if self.core is None:
            raise InvalidRequest(f"the store at {str(self.storage.path)!r} is open read-only")
        return self.core

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _elapsed_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def open_embedded(path: str | Path, *, sync: bool = True, readonly: bool = False) -> EmbeddedStore:
    """The store in ``path``, created if need be, for this process alone (``DataDirError``
    names the process that holds it). With ``readonly`` it reads beside whoever holds it (a
    live node) and never writes a byte; appends and leases then raise ``InvalidRequest``."""
    return EmbeddedStore(path, sync=sync, readonly=readonly)
