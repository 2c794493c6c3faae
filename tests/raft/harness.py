"""An in-memory network of cores for tests, after etcd's ``network`` (raft_test.go).

No clock and no sockets: ``stabilize()`` hands every Ready to its host (persist, send, apply,
advance) and delivers messages until nothing moves. Links can be cut, nodes isolated or
crashed, and messages of a kind dropped.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

import attrs

from eventlog.raft.config import RaftConfig
from eventlog.raft.core import RaftCore
from eventlog.raft.messages import Message
from eventlog.raft.ready import Role
from eventlog.raft.records import Entry, EntryKind
from eventlog.raft.storage import MemoryStorage
from eventlog.types import LogIndex, NodeId


@attrs.define
class Host:
    core: RaftCore
    storage: MemoryStorage
    applied: list[Entry] = attrs.field(factory=list)
    read_states: list[tuple[LogIndex, bytes]] = attrs.field(factory=list)

    @property
    def applied_data(self) -> list[bytes]:
        return [entry.data for entry in self.applied if entry.kind is EntryKind.NORMAL]


@attrs.define
class Network:
    hosts: dict[NodeId, Host]
    config_for: Callable[[NodeId], RaftConfig]
    seed: int
    cut: set[tuple[NodeId, NodeId]] = attrs.field(factory=set)
    drop: Callable[[Message], bool] = lambda m: False
    in_flight: list[Message] = attrs.field(factory=list)
    delivered: list[Message] = attrs.field(factory=list)

    @classmethod
    def create(cls, size: int, seed: int = 0, **overrides: object) -> Network:
        voters = tuple(NodeId(i) for i in range(1, size + 1))

        def config_for(node: NodeId) -> RaftConfig:
            return RaftConfig(node_id=node, voters=voters, **overrides)  # type: ignore[arg-type]

        network = cls(hosts={}, config_for=config_for, seed=seed)
        for node in voters:
            network.hosts[node] = network._boot(node, MemoryStorage())
        return network

    def _boot(self, node: NodeId, storage: MemoryStorage) -> Host:
        rng = random.Random(self.seed * 1000 + node)
        return Host(core=RaftCore.open(self.config_for(node), storage, rng), storage=storage)

    def core(self, node: int) -> RaftCore:
        return self.hosts[NodeId(node)].core

    def host(self, node: int) -> Host:
        return self.hosts[NodeId(node)]

    # -- running -------------------------------------------------------------------------------
    def process_ready(self, node: NodeId) -> bool:
        """Do what one Ready asks, as a real host does; False if there was nothing to do."""
        host = self.hosts[node]
        if not host.core.has_ready():
            return False
        rd = host.core.ready()
        host.storage.write(rd.hard_state, rd.entries)
        if rd.must_sync:
            host.storage.sync()
        self.in_flight.extend(rd.messages)
        self.in_flight.extend(rd.messages_after_persist)
        host.applied.extend(rd.committed)
        host.read_states.extend((read.index, read.context) for read in rd.read_states)
        host.core.advance(rd)
        return True

    def stabilize(self, max_rounds: int = 10_000) -> None:
        """Process every Ready and deliver every message until the cluster is quiet."""
        for _ in range(max_rounds):
            moved = any([self.process_ready(node) for node in self.hosts])
            if not self.in_flight and not moved:
                return
            batch, self.in_flight = self.in_flight, []
            for m in batch:
                self.deliver(m)
        raise AssertionError("the cluster did not settle")

    def deliver(self, m: Message) -> None:
        if (m.src, m.dst) in self.cut or self.drop(m) or m.dst not in self.hosts:
            return
        self.delivered.append(m)
        self.hosts[m.dst].core.step(m)

    def tick(self, node: int, times: int = 1) -> None:
        for _ in range(times):
            self.core(node).tick()

    def tick_all(self, times: int = 1, nodes: Iterable[int] | None = None) -> None:
        chosen = list(nodes) if nodes is not None else list(self.hosts)
        for _ in range(times):
            for node in chosen:
                self.core(node).tick()
            self.stabilize()

    def elect(self, node: int) -> None:
        self.core(node).campaign()
        self.stabilize()
        assert self.core(node).role is Role.LEADER, f"node {node} did not win"

    def propose(self, node: int, *data: bytes) -> None:
        self.core(node).propose(*data)
        self.stabilize()

    # -- faults --------------------------------------------------------------------------------
    def isolate(self, node: int) -> None:
        for other in self.hosts:
            if other != node:
                self.cut.add((NodeId(node), other))
                self.cut.add((other, NodeId(node)))

    def partition(self, *groups: Iterable[int]) -> None:
        sets = [list(group) for group in groups]
        for i, group in enumerate(sets):
            for other in sets[i + 1 :]:
                for a in group:
                    for b in other:
                        self.cut.add((NodeId(a), NodeId(b)))
                        self.cut.add((NodeId(b), NodeId(a)))

    def heal(self) -> None:
        self.cut.clear()
        self.drop = lambda m: False

    def crash_and_restart(self, node: int) -> None:
        """Lose power (unsynced writes are lost) and boot again from the disk."""
        storage = self.hosts[NodeId(node)].storage.crash()
        self.hosts[NodeId(node)] = self._boot(NodeId(node), storage)
        self.in_flight = [m for m in self.in_flight if m.dst != node and m.src != node]

    # -- looking -------------------------------------------------------------------------------
    def leaders(self) -> list[NodeId]:
        return [node for node, host in self.hosts.items() if host.core.role is Role.LEADER]

    def log_terms(self, node: int) -> list[int]:
        log = self.core(node).log
        return [int(log.term(LogIndex(i)) or 0) for i in range(1, log.last_index() + 1)]

    # -- helpers added for the paper-section tests ---------------------------------------------
    def tick_until(
        self,
        condition: Callable[[], bool],
        max_ticks: int = 1_000,
        nodes: Iterable[int] | None = None,
    ) -> int:
        """Tick ``nodes`` (all by default), stabilizing after each tick, until ``condition()``
        holds; return how many ticks it took."""
        chosen = list(nodes) if nodes is not None else None
        for ticks in range(max_ticks + 1):
            if condition():
                return ticks
            self.tick_all(1, chosen)
        raise AssertionError(f"condition not reached within {max_ticks} ticks")

    def leader_among(self, nodes: Iterable[int]) -> NodeId | None:
        """The single leader among ``nodes`` in the highest term any of them is in, if any."""
        chosen = [NodeId(node) for node in nodes]
        top = max(self.core(node).term for node in chosen)
        found = [n for n in chosen if self.core(n).role is Role.LEADER and self.core(n).term == top]
        return found[0] if len(found) == 1 else None

    def committed_terms(self, node: int) -> list[int]:
        """Terms of the entries ``node`` knows to be committed, by index (index 1 first)."""
        return self.log_terms(node)[: self.core(node).log.committed]
