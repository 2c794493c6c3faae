"""The runtime around the core: ticks, the Ready loop, batching proposals, futures by entry.

Only the event loop thread touches the core. Writes run in one writer thread (LMDB fsyncs
block) through the write pipeline (``writes``), so while one Ready is being written the loop
keeps stepping messages and taking proposals, and the next Ready carries all of them: group
commit without a timer. The leader sends its AppendEntries before its own write finishes,
and may hand out the next Ready, and send its entries, before the last one is written
(thesis §10.2.1). A Ready that only applies is decided on the loop and written with the next
one (``LmdbStorage.stage``).

The peer transport, the source of ticks, the clock that stamps batches and the core's
randomness are the node's to build by default and a caller's to inject, so that a test can run
several nodes in one event loop, over an in-memory network, one tick at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import structlog

from eventlog.errors import (
    CorruptRecord,
    EventLogError,
    InvariantViolation,
    NotLeader,
    StorageFull,
    Unavailable,
)
from eventlog.logs import bind_node
from eventlog.node import founding
from eventlog.node.callers import Callers, Queued, Reply, future_reply, in_slices
from eventlog.node.config import STAGED_FLUSH_DELAY, NodeConfig, monotonic_ms, wall_clock_ms
from eventlog.node.divergence import Divergence
from eventlog.node.health import Health, open_storage
from eventlog.node.incarnations import Incarnations
from eventlog.node.members import Members, bootstrap_membership, open_core
from eventlog.node.room import Room
from eventlog.node.status import status_of
from eventlog.node.ticks import tick_every
from eventlog.node.transport import Deliver, TransportFactory, peer_transport
from eventlog.node.writes import Merged, Writes
from eventlog.protocol.reports import Report
from eventlog.protocol.requests import KIND_APPEND, CheckedRequest, check_size
from eventlog.raft.core import Proposal
from eventlog.raft.membership import Change, Membership
from eventlog.raft.messages import Message
from eventlog.raft.ready import Ready, Role
from eventlog.raft.records import Entry
from eventlog.records import NodeStatus
from eventlog.state.batch import encode_batch
from eventlog.state.clock import LeaderClock
from eventlog.state.outcomes import Outcome
from eventlog.store.storage import LmdbStorage
from eventlog.types import NO_NODE, LogIndex, NodeId

__all__ = [
    "REPORT_MS",
    "STAGED_FLUSH_DELAY",
    "Deliver",
    "Node",
    "NodeConfig",
    "TransportFactory",
    "monotonic_ms",
    "peer_transport",
    "wall_clock_ms",
]

REPORT_MS = 1000
"""How often a node tells its peers its alarms and its history's digest."""
APPLY_ON_LOOP_BYTES = 64 << 10
"""Committed entries a node applies on its loop when no write is due, at most; more is
applied in the writer thread (no fsync there, but the loop steps messages meanwhile)."""


class Node:
    """One Raft node serving the event store. ``start()`` it inside a running event loop.

    By default it ticks itself every ``tick_ms``, talks TCP to its peers, stamps batches with
    the wall clock and seeds its core from the OS. With ``tick_loop=False`` time moves only
    when the owner calls ``tick()``."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        transport: TransportFactory = peer_transport,
        clock_ms: Callable[[], int] = wall_clock_ms,
        elapsed_ms: Callable[[], int] = monotonic_ms,
        rng: random.Random | None = None,
        tick_loop: bool = True,
    ) -> None:
        self.clock_ms, self.elapsed_ms = clock_ms, elapsed_ms
        self._leader_clock = LeaderClock()
        self._tick_loop_enabled = tick_loop
        self.logger = structlog.get_logger(__name__).bind(node_id=config.node_id)
        self.storage = open_storage(
            Path(config.data_dir),
            lambda: LmdbStorage.open(
                config.data_dir,
                cluster_id=config.cluster_id,
                node_id=config.node_id,
                sync=config.sync,
                base=(LogIndex(0), bootstrap_membership(config)),
            ),
        )
        self.config = config
        self.core = open_core(config, self.storage, rng or random.Random(), self.logger)
        bind_node(config.node_id, lambda: self.core.term)
        self.transport = transport(config, self.step)
        self.transport.cluster_id = self.storage.cluster_id
        self.transport.on_report = self._heard
        self.transport.on_peer_gone = self._peer_gone
        self.members = Members(config.node_id, config.addresses, self.transport, self.logger)
        self._ticks = 0
        self.transport.incarnations = Incarnations.load(
            self.storage.path, self.storage.incarnation, self.fail
        )
        self._wakeup = asyncio.Event()
        self._applied = asyncio.Condition()
        self._callers = Callers()
        # Twice the longest election timeout: time for a leader to answer, or to be replaced.
        self.read_timeout = 2 * 2 * config.election_tick * config.tick_ms / 1000
        self._tasks: list[asyncio.Task[None]] = []
        self._role = self.core.role
        self._leader = self.core.leader
        self._flush_at: float | None = None
        self._readers = 0
        """Readers waiting for applied state (``wait_applied``, ``wait_position``)."""
        self._busy = False  # the Ready loop is at work
        self._writes = Writes(config.pipelined_writes, self._persist, self._finish)
        self.stopped = False
        self.health = Health(config.node_id, self.storage.path, self.logger)
        self.divergence = Divergence(
            len(config.addresses), self.storage.digest_after, self.storage.applied_index
        )
        self.room = Room(
            config.node_id,
            self.storage,
            self.health,
            self._report,
            config.quota_bytes,
            config.storage_retry,
        )

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._follow_membership()
        await self.transport.start()
        self._tasks = [
            asyncio.create_task(self._ready_loop(), name="ready"),
            asyncio.create_task(self._writes.run(), name="write"),
        ]
        if self._tick_loop_enabled:
            ticks = tick_every(self.config.tick_ms / 1000, self.tick)
            self._tasks.append(asyncio.create_task(ticks, name="tick"))
        for task in self._tasks:
            task.add_done_callback(self._loop_ended)
        self.logger.info("node_started", applied_index=self.storage.applied_index())
        founding.warn_if_ignored(self)
        self.room.check()  # a store already past its quota says so before any write
        self._report()  # and peers forget what it had

    async def stop(self, *, flush: bool = True) -> None:
        """Stop serving and close the storage. ``flush=False`` leaves staged applies unwritten,
        as a crash would: the restarted node applies those entries again from its log."""
        if self.stopped:
            return
        self.stopped = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.transport.close()
        self._callers.fail_all(Unavailable("node stopped"))
        # A cancelled Ready loop may have left a write running in the writer thread: let it
        # finish before anything else touches the environment, and before closing it.
        await asyncio.to_thread(self._writes.shutdown)
        if flush and self.health.serving:  # a node that stopped writes nothing more
            with contextlib.suppress(EventLogError):
                self.storage.flush()  # not needed for safety: saves a restart some re-applying
        self.storage.close()

    # -- inputs --------------------------------------------------------------------------------
    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        """The Ready or tick loop ends only when stopped. Any other end (a failed write, a bug)
        stops the node on purpose, loudly: a node that goes on answering while it does no Raft
        work is worse than one that is gone (etcd does the same on a failed WAL write)."""
        if task.cancelled() or self.stopped:
            return
        cause = task.exception() or InvariantViolation(f"the {task.get_name()} loop returned")
        self.fail(cause)

    def fail(self, cause: BaseException) -> None:
        """Stop taking part because of ``cause`` (``Health.stop``): answer every waiting caller
        with ``Unavailable`` (they retry elsewhere) and do no more Raft work."""
        if not self.health.stop(cause):
            return
        self._callers.fail_all(self.health.unavailable())
        self.members.fail_all(self.health.unavailable())
        for task in self._tasks:
            task.cancel()
        asyncio.get_running_loop().create_task(self._wake_waiters())
        asyncio.get_running_loop().create_task(self.transport.close())

    async def _wake_waiters(self) -> None:
        async with self._applied:
            self._applied.notify_all()

    def step(self, m: Message) -> None:
        if not self.health.serving:  # a node that stopped takes no part: no vote, no append
            return
        try:
            self.core.step(m)
        except CorruptRecord as error:  # an entry to send that does not hold
            self.fail(error)
            return
        self._wakeup.set()

    def tick(self) -> None:
        """One tick of logical time, as the tick loop gives every ``tick_ms``."""
        if not self.health.serving:
            return
        try:
            self.core.tick()
        except CorruptRecord as error:
            self.fail(error)
            return
        self._ticks += 1
        if self._ticks % max(1, round(REPORT_MS / self.config.tick_ms)) == 0:
            self._report()
        self._wakeup.set()

    def idle(self) -> bool:
        """Nothing for the Ready loop to do now: no Ready in hand or due, no proposal queued.
        Who drives the ticks may wait for this, so that no tick outruns a write."""
        busy = self._busy or not self._writes.idle or self._wakeup.is_set()
        return not (busy or self.core.has_ready())

    def append(
        self, request: CheckedRequest, allowed: Callable[[list[Any]], None] | None = None
    ) -> asyncio.Future[Outcome]:
        """``submit`` with a future that resolves once the append is applied here."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.submit(request, future_reply(future), allowed)
        return future

    def submit(
        self,
        request: CheckedRequest,
        reply: Reply,
        allowed: Callable[[list[Any]], None] | None = None,
    ) -> None:
        """Queue a checked append for the next batch; ``reply`` is called once it is applied
        here (or its wait ends). Raises ``NotLeader`` at once on a follower; then
        ``allowed(fields)`` may refuse it (the caller's permissions, as the leader knows them)."""
        check_size(request, self.config.max_append_bytes)
        self.health.check_serving()
        if self.core.role is not Role.LEADER:
            raise self._not_leader()
        if allowed is not None:
            allowed(request.fields)
        if request.fields[0] == KIND_APPEND:
            no_space = self.health.no_space(time.monotonic())
            if no_space is not None:
                raise StorageFull(no_space)
        queued = Queued(request.encoded, request.events, request.request_id, reply, request.size)
        self._callers.admit(queued, self.config.max_held_appends, self.config.max_held_bytes)
        self._wakeup.set()

    async def read_barrier(self) -> LogIndex:
        """Linearizable read (ReadIndex): wait until this node has applied all that was
        committed when the read began; raises NotLeader on a follower without a leader."""
        self.health.check_serving()
        with self._callers.read() as (context, confirmed):
            self.core.read_index(context)
            self._wakeup.set()
            # A read forwarded to a leader that then steps down is never answered; a fresh
            # attempt (the client retries) goes to whoever leads now.
            try:
                async with asyncio.timeout(self.read_timeout):
                    index = await confirmed
            except TimeoutError:
                raise Unavailable("the leader did not confirm the read in time") from None
        await self.wait_applied(index)
        return index

    async def wait_applied(self, index: LogIndex) -> None:
        await self._wait_until(self.storage.applied_index, index)

    async def wait_position(self, position: int) -> None:
        await self._wait_until(self.storage.last_position, position)

    async def _wait_until(self, current: Callable[[], int], target: int) -> None:
        """Until what is written reaches ``target``; while this waits, whatever is staged is
        written at once rather than after the flush delay."""
        self._readers += 1
        try:
            async with self._applied:
                await self._applied.wait_for(lambda: self._reached(current, target))
        finally:
            self._readers -= 1

    def _reached(self, current: Callable[[], int], target: int) -> bool:
        self.health.check_serving()
        if current() >= target:
            return True
        self._flush_soon()
        return False

    # -- the Ready loop ------------------------------------------------------------------------
    async def _ready_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._busy = False
            # A write in the pipeline writes what is staged: no flush is due meanwhile.
            flush_at = self._flush_at if self._writes.idle else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(flush_at):
                    await self._wakeup.wait()
            self._busy = True
            self._wakeup.clear()
            self._propose_queued()
            while self._writes.has_room() and self.core.has_ready():
                self._hand(self.core.ready())
                self._propose_queued()
            if self._writes.idle and self._flush_at is not None and loop.time() >= self._flush_at:
                await self.room.write(lambda: self._writes.in_thread(self.storage.flush))
                await self._written()

    def _report(self) -> None:
        self.transport.report(Report(self.health.own_alarms(), self.storage.last_digest()))

    def _peer_gone(self, peer: NodeId) -> None:
        self.core.peer_gone(peer)  # our leader: campaign soon (``roles.leader_gone``)
        self._wakeup.set()

    def _heard(self, peer: NodeId, report: Report) -> None:
        self.health.heard(peer, report.alarms, time.monotonic())
        if report.applied is not None and self.health.serving:
            odd_one_out = self.divergence.heard(peer, report.applied)
            if odd_one_out is not None:
                self.fail(odd_one_out)

    async def _written(self) -> None:
        """After a write: nothing is staged any more, and waiting readers may go on."""
        self.room.check()
        if (odd_one_out := self.divergence.check()) is not None:
            self.fail(odd_one_out)
        self._flush_at = None
        self.transport.cluster_id = self.storage.cluster_id  # named by the entry just applied
        async with self._applied:
            self._applied.notify_all()

    def _flush_soon(self) -> None:
        """A reader waits for applied state: write what is staged now, not after the delay."""
        if self.storage.staged():
            self._flush_at = asyncio.get_running_loop().time()
            self._wakeup.set()

    def _hand(self, rd: Ready) -> None:
        """Send what may go before the write. A small apply with no write in hand is decided
        on the loop, and the Ready finished at once; any other Ready goes to the pipeline."""
        self.transport.send(rd.messages)
        if (
            not rd.must_sync
            and self._writes.idle
            and sum(entry.size for entry in rd.committed) <= APPLY_ON_LOOP_BYTES
        ):
            if rd.committed or rd.hard_state is not None:
                self.storage.stage(
                    rd.hard_state, rd.committed, lambda done: self._resolve(rd.committed, done)
                )
                self._staged()
            self._finish(rd)
        else:
            self._writes.put(rd)

    async def _persist(self, rd: Merged) -> None:
        """In the write pipeline: persist and apply in one transaction (one fsync) in the
        writer thread, answering callers as soon as their outcomes are known. A Ready with
        nothing to make durable (no entries, no new term or vote) only applies: its outcomes
        are decided now and written with the next write (or flush)."""
        loop = asyncio.get_running_loop()

        def answer(outcomes: list[tuple[LogIndex, list[Outcome]]]) -> None:
            for entries, applied in in_slices(rd.committed, outcomes):
                loop.call_soon_threadsafe(self._resolve, entries, applied)

        if rd.must_sync:
            storage = self.storage
            write = functools.partial(
                storage.write_ready, rd.hard_state, rd.entries, rd.committed, on_applied=answer
            )
            await self.room.write(lambda: self._writes.in_thread(write))
            await self._written()
        elif rd.committed or rd.hard_state is not None:
            await self._writes.in_thread(self.storage.stage, rd.hard_state, rd.committed, answer)
            self._staged()

    def _staged(self) -> None:
        """Applies were staged: write them soon, or now if someone waits for them."""
        now = asyncio.get_running_loop().time()
        if self._readers:
            self._flush_at = now
        elif self._flush_at is None:
            self._flush_at = now + self.config.flush_delay

    def _finish(self, rd: Ready) -> None:
        """After its write and every earlier one: send what needed them, serve reads, advance."""
        self.transport.send(rd.messages_after_persist)
        for read in rd.read_states:
            self._callers.answer_read(read.context, read.index)
        self._on_soft_state(rd)
        self.core.advance(rd)
        self._follow_membership()
        self._wakeup.set()

    def _follow_membership(self) -> None:
        if self.members.follow(self.core):
            self.divergence.voters = len(self.core.membership.members)

    def change_membership(self, change: Change) -> asyncio.Future[Membership]:
        """Propose one membership change as leader (``Members.propose``); the future resolves
        with the new configuration once it commits."""
        self.health.check_serving()
        future = self.members.propose(self.core, change)
        self._wakeup.set()
        return future

    def _propose_queued(self) -> None:
        self._callers.propose_all(self._propose)

    def _propose(self, batch: list[Queued]) -> Proposal:
        cluster_ms = self._leader_clock.stamp(
            int(self.core.term), self.storage.clock_ms(), self.elapsed_ms()
        )
        data = encode_batch(
            self.clock_ms(),
            cluster_ms,
            [item.encoded for item in batch],
            [item.events for item in batch],
        )
        return self.core.propose(data)

    def _resolve(
        self, committed: Sequence[Entry], outcomes: list[tuple[LogIndex, list[Outcome]]]
    ) -> None:
        self._callers.resolve(committed, outcomes, self._not_leader)

    def _not_leader(self) -> NotLeader:
        return NotLeader(self.config.node_id, self.core.leader or None)

    def _on_soft_state(self, rd: Ready) -> None:
        role, leader = rd.soft_state.role, rd.soft_state.leader
        if leader != self._leader:
            # Reads waiting on the old leader's confirmation will never get it.
            self._callers.fail_reads(NotLeader(self.config.node_id, leader or None))
            self._leader = leader
        if role is self._role:
            return
        self.logger.info(
            "role_changed", role=role.value, term=self.core.term, leader=rd.soft_state.leader
        )
        if self._role is Role.LEADER:
            # Our proposals may still commit under the next leader; callers retry with the
            # same request id, which the state machine answers without appending twice.
            deposed = NotLeader(self.config.node_id, rd.soft_state.leader or None)
            self._callers.fail_all(deposed)
            self.members.fail_all(deposed)
        self._role = role
        if role is Role.LEADER:
            self._leader_clock.lead(int(self.core.term), self.storage.clock_ms(), self.elapsed_ms())
            founding.settle(self)

    @property
    def cluster_id(self) -> str:
        """The cluster this node serves; empty until a cluster started without an id is named
        (its first leader proposes a random one; the first applied names it)."""
        return self.storage.cluster_id

    # -- looking -------------------------------------------------------------------------------
    def leader_address(self) -> tuple[NodeId, tuple[str, int] | None]:
        leader = self.core.leader
        return leader, self.members.addresses.get(leader) if leader != NO_NODE else None

    def status(self) -> NodeStatus:
        return attrs.evolve(
            status_of(self.core, self.storage, self.clock_ms()),
            alarms=self.health.alarms(time.monotonic()),
        )
