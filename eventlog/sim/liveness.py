"""Liveness once the faults stop: the cluster must converge, and if it does not, say how each
server stands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eventlog.sim.cluster import SimCluster

__all__ = [
    "converged",
    "report",
]


def converged(sim: SimCluster) -> bool:
    """One leader that everyone follows, an entry of its term committed, all applied."""
    if sim.probe is None or sim.probe in sim.waiting:
        return False
    leader = sim.leader_node()
    if leader is None or leader.core is None:
        return False
    log, term = leader.core.log, leader.core.term
    commit = log.committed
    if log.term(commit) != term or commit != log.last_index():
        return False
    members = leader.core.membership.members
    for node in sim.nodes.values():
        if node.id not in members:
            continue  # a spare never added, or a server removed: it follows no one
        core = node.core
        if core is None or core.term != term or core.leader != leader.id:
            return False
        if len(node.applied) != commit or node.in_flight:
            return False
    return True


def report(sim: SimCluster) -> str:
    states = []
    for node in sim.nodes.values():
        core = node.core
        if core is None:
            states.append(f"n{node.id}: down")
            continue
        states.append(
            f"n{node.id}: {core.role.value} term={core.term} leader={core.leader} "
            f"last={core.log.last_index()} commit={core.log.committed} "
            f"applied={len(node.applied)}"
        )
    return "no convergence after the faults stopped; " + "; ".join(states)
