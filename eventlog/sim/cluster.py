"""A whole cluster of cores on a virtual clock, driven through seeded faults.

Everything random comes from ``random.Random`` streams derived from the run's seed, and events
are ordered by (time, sequence number), so the same seed replays the same run exactly.
Each node's host handles Readys as the real node does (``host``): write, fsync, send what
waited for the fsync, apply, advance, with more than one Ready in hand at a time. Clients
propose real request batches (``workload``) and every node applies them through the real
state machine on a ``MemoryState``, so the run checks the event store's decisions
(``state_checks``) as well as Raft's.
"""

from __future__ import annotations

import heapq
import random
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from eventlog.errors import NotLeader, ProposalDropped
from eventlog.raft.config import RaftConfig
from eventlog.raft.core import Logger, NullLogger, RaftCore
from eventlog.raft.membership import Membership
from eventlog.raft.messages import Message
from eventlog.raft.ready import Role
from eventlog.raft.records import Entry
from eventlog.raft.storage import MemoryStorage
from eventlog.sim import host, liveness, members
from eventlog.sim.chaos import inject, kill
from eventlog.sim.config import SimConfig, Stats
from eventlog.sim.disk import SimDisk
from eventlog.sim.invariants import InvariantChecker, Violation
from eventlog.sim.network import NetworkConditions, SimNetwork
from eventlog.sim.state_checks import StateChecker
from eventlog.sim.trace import TraceLogger, describe
from eventlog.sim.workload import EPOCH_MS, Workload
from eventlog.state.clock import LeaderClock
from eventlog.state.memory import MemoryState
from eventlog.types import NO_NODE, LogIndex, NodeId, Term

__all__ = [
    "ClockFactory",
    "CoreFactory",
    "SimCluster",
    "SimNode",
    "StateFactory",
    "open_core",
    "random_raft_tuning",
]

CoreFactory = Callable[[RaftConfig, MemoryStorage, random.Random, Logger], RaftCore]
StateFactory = Callable[[NodeId], MemoryState]
ClockFactory = Callable[[NodeId], LeaderClock]
WALL_SKEWS_MS = (0, 0, 7_200_000, -7_200_000)
"""Each node's wall clock is off by one of these (two hours, ahead or behind): only the events'
timestamps may show it."""
"""The applied state a node starts (and restarts) with; tests swap in broken ones."""


open_core: CoreFactory = RaftCore.open


@attrs.define
class SimNode:
    id: NodeId
    disk: SimDisk
    core: RaftCore | None = None
    generation: int = 0
    in_flight: deque[host.InFlight] = attrs.field(factory=deque)
    """Readys handed out and not finished, oldest first (``host``)."""
    handed: int = 0
    writes_in_flight: int = 1
    """How many Readys the host may hold at once (``host.writes_in_flight``)."""
    applied: list[Entry] = attrs.field(factory=list)
    state: MemoryState = attrs.field(factory=MemoryState)
    """The applied state; lost at a crash and rebuilt from the log, as from index 1."""
    role: Role = Role.FOLLOWER
    term: Term = Term(0)
    reads: dict[bytes, LogIndex] = attrs.field(factory=dict)
    leader_clock: LeaderClock = attrs.field(factory=LeaderClock)
    """Its stamps while it leads; lost at a crash, as a process's memory is."""


PROBE_PATIENCE = 20  # rounds of 50 ms: a leader removed while cut off takes what never commits
_TICK, _DELIVER, _SYNCED, _PROPOSE, _READ, _FAULT, _RESTART, _FLAP, _CRASH = range(9)


def random_raft_tuning(rng: random.Random) -> dict[str, Any]:
    """Vary message size and window per seed, so batching and flow control are exercised too."""
    return {
        "max_message_bytes": rng.choice([1, 64, 1 << 20]),
        "max_inflight_messages": rng.choice([1, 4, 64]),
        "pre_vote": rng.random() < 0.85,
        "check_quorum": rng.random() < 0.85,
    }


class SimCluster:
    def __init__(
        self,
        seed: int,
        config: SimConfig,
        core_factory: CoreFactory = open_core,
        *,
        trace: bool = False,
        state_factory: StateFactory = lambda _: MemoryState(),
        clock_factory: ClockFactory = lambda _: LeaderClock(),
    ) -> None:
        self.seed, self.config, self.core_factory = seed, config, core_factory
        self.state_factory, self.clock_factory = state_factory, clock_factory
        master = random.Random(seed)
        self.fault_rng = random.Random(master.getrandbits(64))
        self.client_rng = random.Random(master.getrandbits(64))
        self.network = SimNetwork(random.Random(master.getrandbits(64)))
        self.core_rng = random.Random(master.getrandbits(64))
        self.tuning = random_raft_tuning(random.Random(master.getrandbits(64)))
        self.tuning.update(config.raft_overrides)
        self.now = 0.0
        self.queue: list[tuple[float, int, int, Any]] = []
        self.seq = 0
        self.trace: list[str] | None = [] if trace else None
        self.checker = InvariantChecker(now=lambda: self.now)
        self.state_checker = StateChecker(fail=self.checker.fail)
        self.workload = Workload(random.Random(master.getrandbits(64)))
        self.stats = Stats()
        self.voters = tuple(NodeId(i) for i in range(1, config.nodes + 1))  # the first voters
        ids = [NodeId(i) for i in range(1, config.nodes + config.spares + 1)]
        disk_rng = random.Random(master.getrandbits(64))
        self.nodes = {
            i: SimNode(
                id=i,
                disk=SimDisk(random.Random(disk_rng.getrandbits(64))),
                writes_in_flight=config.writes_in_flight or host.writes_in_flight(seed, i),
            )
            for i in ids
        }
        self.tick_skew = {i: 1.0 + self.core_rng.uniform(-0.02, 0.02) for i in ids}
        clocks = random.Random(f"{seed}/wall-clocks")  # drawn apart: the run is otherwise as was
        self.wall_skew_ms = {i: clocks.choice(WALL_SKEWS_MS) for i in ids}
        self.counted_in: dict[tuple[LogIndex, Term], tuple[Membership, Membership]] = {}
        """The configurations a leader may have counted in when it committed each entry."""
        self.removed: set[NodeId] = set()  # removed servers run on, and never join again
        self.stamped_at: dict[bytes, int] = {}
        """The virtual time at which each proposed batch was stamped."""
        self.faulting = True
        self.leader_hint: NodeId = NO_NODE
        self.current_leader: NodeId = NO_NODE
        self.waiting: dict[bytes, tuple[NodeId, Term, LogIndex]] = {}
        self.counter = 0
        self.probe: bytes | None = None
        self.probe_rounds = 0
        self.story: list[tuple[float, str]] = []

    # -- scheduling ----------------------------------------------------------------------------
    def schedule(self, delay: float, kind: int, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (self.now + delay, self.seq, kind, payload))

    def log(self, line: str) -> None:
        if self.trace is not None:
            self.trace.append(f"{self.now:10.3f} {line}")

    def note(self, text: str) -> None:
        """A notable happening, for the person reading the story of a run."""
        self.story.append((self.now, text))
        self.log(text.upper() if text.startswith("faults") else text)

    # -- the run -------------------------------------------------------------------------------
    def boot(self) -> None:
        """Start every node and, if configured, the clients and the fault plan."""
        self.log(f"seed={self.seed} nodes={self.config.nodes} tuning={self.tuning}")
        for node in self.nodes.values():
            self.start(node)
        if self.config.clients:
            self.schedule(0.0, _PROPOSE, None)
            self.schedule(0.0, _READ, None)
        if self.config.faults.weights:
            self.schedule(self.config.faults.next_interval(self.fault_rng), _FAULT, None)

    def run(self) -> tuple[Stats, list[Violation]]:
        self.boot()
        handlers = self.handlers()
        while self.stats.steps < self.config.steps and not self.checker.violations:
            self.step(handlers)
        self.begin_recovery()
        recovery_start = self.now
        deadline = self.now + self.config.recovery_bound_ms
        while not self.checker.violations and not liveness.converged(self):
            if self.now > deadline or not self.queue:
                self.checker.fail("liveness", liveness.report(self))
                break
            self.step(handlers)
        self.stats.recovery_ms = self.now - recovery_start
        if not self.checker.violations:
            self.note(f"converged {self.stats.recovery_ms:.0f}ms after the faults stopped")
        if not self.checker.violations:
            members.final_checks(self)
        self.finish_stats()
        return self.stats, self.checker.violations

    def handlers(self) -> list[Callable[[Any], None]]:
        return [
            self.on_tick,
            self.on_deliver,
            self.on_synced,
            self.on_propose,
            self.on_read,
            self.on_fault,
            self.on_restart,
            self.on_flap,
            self.on_crash,
        ]

    def step(self, handlers: list[Callable[[Any], None]]) -> None:
        self.now, _, kind, payload = heapq.heappop(self.queue)
        self.stats.steps += 1
        try:
            handlers[kind](payload)
        except Exception as error:  # a core bug must surface as a violation with its seed
            detail = "".join(traceback.format_exception_only(error)).strip()
            self.checker.fail("exception", f"{detail}\n{traceback.format_exc()}")

    def finish_stats(self) -> None:
        s = self.stats
        s.time_ms = self.now
        s.committed = len(self.checker.applied)
        s.events, s.refusals = self.state_checker.events, self.state_checker.refusals
        s.messages, s.dropped = self.network.sent, self.network.dropped
        s.duplicated = self.network.duplicated
        s.fsyncs = sum(node.disk.fsyncs for node in self.nodes.values())

    # -- node lifecycle ------------------------------------------------------------------------
    def start(self, node: SimNode) -> None:
        logger: Logger = NullLogger()
        if self.trace is not None:
            logger = TraceLogger(self.trace, node.id, lambda: self.now)
        config = RaftConfig(node_id=node.id, voters=self.voters, **self.tuning)
        rng = random.Random(self.core_rng.getrandbits(64))
        node.core = self.core_factory(config, node.disk.storage, rng, logger)
        node.applied, node.reads = [], {}
        node.in_flight, node.handed = deque(), 0
        node.state = self.state_factory(node.id)
        node.leader_clock = self.clock_factory(node.id)
        storage = node.disk.storage
        self.checker.reset_node_log(
            node.id, storage.entries(LogIndex(1), LogIndex(storage.last_index() + 1))
        )
        self.schedule(
            self.core_rng.uniform(0, self.config.tick_ms), _TICK, (node.id, node.generation)
        )
        self.observe(node)

    def crash(self, node: SimNode) -> None:
        if node.core is None:
            return
        self.stats.crashes += 1
        node.generation += 1
        node.core = None
        node.in_flight.clear()
        lost = node.disk.crash()
        self.stats.lost_writes += lost
        self.note(f"n{node.id} crashed, losing {lost} unsynced writes")
        members.check_durable(self)
        policy = self.config.faults
        if self.faulting and self.fault_rng.random() >= policy.stay_down_chance:
            delay = self.fault_rng.uniform(*policy.restart_after_ms)
            self.schedule(delay, _RESTART, (node.id, node.generation))

    def on_crash(self, payload: tuple[NodeId, int]) -> None:
        node = self.nodes[payload[0]]
        if self.faulting and node.generation == payload[1]:
            kill(self, node)

    def on_restart(self, payload: tuple[NodeId, int]) -> None:
        node = self.nodes[payload[0]]
        if node.core is None and node.generation == payload[1]:
            self.start(node)
            self.note(f"n{node.id} restarted")

    # -- the host's Ready loop (``host``) -------------------------------------------------------
    def drive(self, node: SimNode) -> None:
        host.drive(self, node)

    def schedule_fsync(self, node: SimNode, number: int) -> None:
        """The fsync after the ``number``-th Ready of this incarnation completes later."""
        payload = (node.id, node.generation, number)
        self.schedule(node.disk.fsync_latency(), _SYNCED, payload)

    def on_synced(self, payload: tuple[NodeId, int, int]) -> None:
        node = self.nodes[payload[0]]
        if node.generation == payload[1]:
            host.synced(self, node, payload[2])
            self.observe(node)

    def observe(self, node: SimNode) -> None:
        core = node.core
        if core is None:
            return
        if (core.role, core.term) != (node.role, node.term):
            node.role, node.term = core.role, core.term
            self.log(f"n{node.id} is {core.role.value} in term {core.term}")
        if core.role is Role.LEADER and self.checker.saw_leader(node.id, core.term):
            self.stats.elections += 1
            self.note(f"n{node.id} elected leader of term {core.term}")
            if self.current_leader != node.id:
                self.stats.leader_changes += 1
                self.current_leader = node.id
            self.checker.check_leader_completeness(node.id, core.log.term)
            plan = self.config.faults
            if self.faulting and self.fault_rng.random() < plan.crash_new_leader_chance:
                delay = self.fault_rng.uniform(*plan.crash_new_leader_ms)
                self.schedule(delay, _CRASH, (node.id, node.generation))

    # -- network -------------------------------------------------------------------------------
    def send(self, m: Message) -> None:
        for delay in self.network.deliveries(m):
            self.schedule(delay, _DELIVER, m)

    def on_deliver(self, m: Message) -> None:
        node = self.nodes[m.dst]
        if node.core is None or self.network.is_blocked(m.src, m.dst):
            return
        if self.trace is not None:
            self.log(f"n{m.dst} <- {describe(m)}")
        node.core.step(m)
        self.drive(node)
        self.observe(node)

    def on_tick(self, payload: tuple[NodeId, int]) -> None:
        node = self.nodes[payload[0]]
        if node.core is None or node.generation != payload[1]:
            return
        node.core.tick()
        self.drive(node)
        self.observe(node)
        self.schedule(self.config.tick_ms * self.tick_skew[node.id], _TICK, payload)

    # -- clients -------------------------------------------------------------------------------
    def up_nodes(self) -> list[SimNode]:
        return [node for node in self.nodes.values() if node.core is not None]

    def on_propose(self, _: Any) -> None:
        if self.faulting:
            self.schedule(
                self.client_rng.expovariate(1 / self.config.propose_interval_ms), _PROPOSE, None
            )
            count = self.client_rng.choice([1, 1, 1, 2, 5])
        else:
            self.schedule(50.0, _PROPOSE, None)
            if self.probe is not None and self.probe not in self.waiting:
                return  # the probe was acknowledged
            self.probe_rounds += 1
            if self.probe_rounds % PROBE_PATIENCE == 0:
                self.leader_hint = NO_NODE  # a client that timed out tries elsewhere
            count = 1
        node = self.client_target()
        if node is None:
            return
        data = self.batches(node, count)
        if self.submit(node, data) and not self.faulting:
            self.probe = data[0]

    def batches(self, node: SimNode, count: int = 1) -> list[bytes]:
        """``count`` batches of the workload, stamped as ``node`` stamps them now: its wall
        clock (skewed) and, were it leader, its cluster clock."""
        elapsed = int(self.now)
        wall = EPOCH_MS + elapsed + self.wall_skew_ms[node.id]
        term = 0 if node.core is None else int(node.core.term)
        clock = node.leader_clock.stamp(term, node.state.clock_ms(), elapsed)
        data = [self.workload.batch(wall, clock) for _ in range(count)]
        self.stamped_at.update(dict.fromkeys(data, elapsed))
        return data

    def submit(self, node: SimNode, data: list[bytes]) -> bool:
        """Propose ``data`` on ``node`` as a client would; True if a leader accepted it."""
        if node.core is None:
            return False
        try:
            proposal = node.core.propose(*data)
        except NotLeader as error:
            self.leader_hint = error.leader_hint or NO_NODE
            return False
        except ProposalDropped:
            return False
        self.stats.proposals += len(data)
        for offset, item in enumerate(data):
            self.waiting[item] = (node.id, proposal.term, LogIndex(proposal.first_index + offset))
        self.log(f"n{node.id} PROPOSE {data[0]!r}..x{len(data)} at {proposal.first_index}")
        self.drive(node)
        return True

    def run_until(self, condition: Callable[[], bool], within_ms: float) -> bool:
        """Handle events until ``condition`` holds (True) or ``within_ms`` pass (False)."""
        handlers, deadline = self.handlers(), self.now + within_ms
        while not condition():
            if not self.queue or self.queue[0][0] > deadline:
                return False
            self.step(handlers)
        return True

    def client_target(self) -> SimNode | None:
        hinted = self.nodes.get(self.leader_hint)
        if hinted is not None and hinted.core is not None:
            return hinted
        up = self.up_nodes()
        return self.client_rng.choice(up) if up else None

    def on_read(self, _: Any) -> None:
        if not self.faulting:
            return
        self.schedule(self.client_rng.expovariate(1 / self.config.read_interval_ms), _READ, None)
        up = self.up_nodes()
        if not up:
            return
        node = self.client_rng.choice(up)
        assert node.core is not None
        self.counter += 1
        context = f"r{self.counter}".encode()
        try:
            node.core.read_index(context)
        except NotLeader:
            return
        node.reads[context] = self.checker.max_acknowledged
        self.drive(node)

    # -- faults --------------------------------------------------------------------------------
    def on_fault(self, _: Any) -> None:
        if not self.faulting:
            return
        plan = self.config.faults
        self.schedule(plan.next_interval(self.fault_rng), _FAULT, None)
        fault = plan.next_fault(self.fault_rng)
        inject(self, fault)

    def start_flapping(self, src: NodeId, dst: NodeId, toggles: int) -> None:
        self.schedule(0.0, _FLAP, (src, dst, toggles))

    def on_flap(self, payload: tuple[NodeId, NodeId, int]) -> None:
        src, dst, remaining = payload
        if not self.faulting or remaining <= 0:
            return
        blocked = self.network.is_blocked(src, dst)
        (self.network.unblock if blocked else self.network.block)(src, dst)
        if not blocked and (core := self.nodes[dst].core) is not None:
            core.peer_gone(src)  # the link broke: dst's host sees src's connection reset
        self.schedule(self.fault_rng.uniform(5.0, 80.0), _FLAP, (src, dst, remaining - 1))

    def leader_node(self) -> SimNode | None:
        leaders = [n for n in self.up_nodes() if n.core is not None and n.core.role is Role.LEADER]
        return max(leaders, key=lambda n: n.term) if leaders else None

    def begin_recovery(self) -> None:
        self.faulting = False
        self.network.heal()
        self.network.conditions = NetworkConditions()
        self.note("faults stop: network healed, every node restarted")
        for node in self.nodes.values():
            if node.core is None:
                node.generation += 1
                self.start(node)
