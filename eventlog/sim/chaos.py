"""Fault injection: what each fault of the plan does to a running simulated cluster.

One small function per fault, picked from a table. A fault that does not apply at the moment
(no leader to crash, nobody down to restart) does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from eventlog.raft.membership import ChangeKind
from eventlog.sim import members
from eventlog.sim.faults import Fault
from eventlog.sim.network import NetworkConditions

if TYPE_CHECKING:
    from eventlog.sim.cluster import SimCluster, SimNode

__all__ = [
    "NEEDS_TWO_NODES",
    "STRIKES",
    "inject",
    "kill",
]


def inject(sim: SimCluster, fault: Fault) -> None:
    if len(sim.voters) > 1 or fault not in NEEDS_TWO_NODES:
        STRIKES[fault](sim)


def kill(sim: SimCluster, node: SimNode) -> None:
    """Crash ``node`` as kill -9 does: the hosts that could reach it see its connections
    close at once (``RaftCore.peer_gone``)."""
    sim.crash(node)
    for other in sim.up_nodes():
        if other.core is not None and not sim.network.is_blocked(node.id, other.id):
            other.core.peer_gone(node.id)


def _crash(sim: SimCluster) -> None:
    up = sim.up_nodes()
    if up:
        kill(sim, sim.fault_rng.choice(up))


def _crash_leader(sim: SimCluster) -> None:
    leader = sim.leader_node()
    if leader is not None:
        kill(sim, leader)


def _restart(sim: SimCluster) -> None:
    down = [node for node in sim.nodes.values() if node.core is None]
    if down:
        node = sim.fault_rng.choice(down)
        sim.start(node)
        sim.note(f"n{node.id} restarted")


def _partition(sim: SimCluster) -> None:
    ids = list(sim.nodes)
    sim.fault_rng.shuffle(ids)
    cut = sim.fault_rng.randint(1, len(ids) - 1)
    sim.network.partition(ids[:cut], ids[cut:])
    sim.stats.partitions += 1
    sim.note(f"partition {sorted(ids[:cut])} | {sorted(ids[cut:])}")


def _isolate_leader(sim: SimCluster) -> None:
    leader = sim.leader_node()
    if leader is not None:
        sim.network.partition([leader.id], [i for i in sim.nodes if i != leader.id])
        sim.stats.partitions += 1
        sim.note(f"leader n{leader.id} cut off from the rest")


def _one_way(sim: SimCluster) -> None:
    src, dst = sim.fault_rng.sample(list(sim.nodes), 2)
    sim.network.block(src, dst)
    sim.stats.partitions += 1
    sim.note(f"one-way cut: n{src} can no longer reach n{dst}")


def _flap(sim: SimCluster) -> None:
    src, dst = sim.fault_rng.sample(list(sim.nodes), 2)
    sim.start_flapping(src, dst, sim.fault_rng.randint(2, 12))
    sim.stats.partitions += 1
    sim.note(f"link n{src} -> n{dst} starts flapping")


def _heal(sim: SimCluster) -> None:
    sim.network.heal()
    sim.note("network healed")


def _degrade(sim: SimCluster) -> None:
    rng = sim.fault_rng
    c = sim.network.conditions = NetworkConditions(
        max_delay_ms=rng.choice([3.0, 20.0, 80.0]),
        drop_rate=rng.choice([0.0, 0.05, 0.3]),
        duplicate_rate=rng.choice([0.0, 0.05, 0.2]),
    )
    sim.note(
        f"network now delays up to {c.max_delay_ms:.0f}ms, loses "
        f"{c.drop_rate:.0%}, duplicates {c.duplicate_rate:.0%}"
    )


def _transfer(sim: SimCluster) -> None:
    leader = sim.leader_node()
    if leader is None or leader.core is None:
        return
    others = sorted(leader.core.voters - {leader.id})
    if not others:
        return
    target = sim.fault_rng.choice(others)
    leader.core.transfer_leadership(target)
    sim.stats.transfers += 1
    sim.note(f"leader n{leader.id} asked to hand leadership to n{target}")
    sim.drive(leader)


def _add_learner(sim: SimCluster) -> None:
    members.propose(sim, ChangeKind.ADD_LEARNER)


def _promote(sim: SimCluster) -> None:
    members.propose(sim, ChangeKind.PROMOTE)


def _remove(sim: SimCluster) -> None:
    members.propose(sim, ChangeKind.REMOVE)


def _remove_leader(sim: SimCluster) -> None:
    members.propose(sim, ChangeKind.REMOVE, leader_itself=True)


STRIKES: dict[Fault, Callable[[SimCluster], None]] = {
    Fault.ADD_LEARNER: _add_learner,
    Fault.PROMOTE: _promote,
    Fault.REMOVE: _remove,
    Fault.REMOVE_LEADER: _remove_leader,
    Fault.CRASH: _crash,
    Fault.CRASH_LEADER: _crash_leader,
    Fault.RESTART: _restart,
    Fault.PARTITION: _partition,
    Fault.ISOLATE_LEADER: _isolate_leader,
    Fault.ONE_WAY: _one_way,
    Fault.FLAP: _flap,
    Fault.HEAL: _heal,
    Fault.DEGRADE: _degrade,
    Fault.TRANSFER: _transfer,
}

NEEDS_TWO_NODES = frozenset(
    {Fault.PARTITION, Fault.ISOLATE_LEADER, Fault.ONE_WAY, Fault.FLAP, Fault.TRANSFER}
)
