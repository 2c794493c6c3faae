"""Membership in the simulator: spare servers that can join, the changes the fault plan makes
(add a learner, promote it, remove a voter, remove the leader), and which servers the
invariants and the liveness check count once the configuration has moved.

A removed server keeps running, with whatever log it has, as a machine an operator forgot
would: it must not disrupt the cluster. Ids are never reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from eventlog.errors import NotLeader
from eventlog.raft.membership import Change, ChangeKind, Membership, MembershipError
from eventlog.raft.quorum import majority
from eventlog.raft.records import Entry, EntryKind
from eventlog.types import LogIndex, NodeId, Term

if TYPE_CHECKING:
    from eventlog.sim.cluster import SimCluster

__all__ = [
    "MIN_VOTERS",
    "check_durable",
    "committed_membership",
    "durable_quorum_holds",
    "final_checks",
    "propose",
    "quorums",
]

_COUNTERS = {
    ChangeKind.ADD_LEARNER: "learners_added",
    ChangeKind.PROMOTE: "promotions",
    ChangeKind.REMOVE: "removals",
}
MIN_VOTERS = 3
"""The plan removes a voter only while at least this many remain after it."""


def committed_membership(initial: Iterable[NodeId], applied: Sequence[Entry]) -> Membership:
    """The configuration of the last configuration entry the cluster applied (committed)."""
    for entry in reversed(applied):
        if entry.kind is EntryKind.CONFIG:
            return Membership.decode(entry.data)
    return Membership(frozenset(initial))


def quorums(committed: Membership, logs: Iterable[Sequence[Entry]]) -> list[Membership]:
    """The configurations a leader may count majorities in now: the committed one, and any
    appended after it in some server's log (in force there, not committed yet)."""
    found = [committed]
    for log in logs:
        for entry in log:
            if entry.kind is EntryKind.CONFIG:
                membership = Membership.decode(entry.data)
                if membership not in found:
                    found.append(membership)
    return found


def durable_quorum_holds(
    index: int, term: int, configs: Sequence[Membership], durable: Mapping[NodeId, Sequence[Entry]]
) -> bool:
    """Is the entry at (index, term) on the synced disks of a majority of the voters of one
    of ``configs``? (With single-server changes any two majorities of adjacent
    configurations overlap, so that is what keeps it from being lost.)"""
    for config in configs:
        holders = sum(
            1
            for voter in config.voters
            if len(log := durable.get(voter, ())) >= index and log[index - 1].term == term
        )
        if holders >= majority(len(config.voters)):
            return True
    return False


def check_durable(sim: SimCluster) -> None:
    """Every acknowledged entry is on the synced disks of a majority of the voters of a
    configuration that may count now (the committed one, one appended after it) or that its
    leader may have counted in when it committed it (the one in force then, the one before)."""
    durable = {i: node.disk.storage.durable_log() for i, node in sim.nodes.items()}
    committed = committed_membership(sim.voters, sim.checker.applied)
    configs = quorums(committed, durable.values())

    def on_a_majority(index: LogIndex, term: Term) -> bool:
        counted = [*configs, *sim.counted_in.get((index, term), ())]
        return durable_quorum_holds(index, term, counted, durable)

    sim.checker.check_durable(on_a_majority)


def final_checks(sim: SimCluster) -> None:
    """Once converged: nothing acknowledged lost, and every member applied all of it."""
    check_durable(sim)
    member_ids = committed_membership(sim.voters, sim.checker.applied).members
    for node in sim.nodes.values():
        if node.id in member_ids:
            sim.checker.check_all_acknowledged_applied(node.id, node.applied)


def propose(sim: SimCluster, kind: ChangeKind, *, leader_itself: bool = False) -> None:
    """Have the leader propose one change of ``kind``, if there is a server it applies to
    (``leader_itself``: remove the leader); a change the leader refuses (one in flight, a
    learner behind) is simply not made."""
    leader = sim.leader_node()
    if leader is None or leader.core is None:
        return
    core = leader.core
    current = core.membership
    enough = len(current.voters) > MIN_VOTERS
    choices: list[NodeId]
    if kind is ChangeKind.ADD_LEARNER:
        choices = [n for n in sim.nodes if n not in current.members and n not in sim.removed]
    elif kind is ChangeKind.PROMOTE:
        choices = sorted(current.learners)
    elif leader_itself:
        choices = [leader.id] if enough and leader.id in current.voters else []
    else:
        choices = sorted((current.members if enough else current.learners) - {leader.id})
    if not choices:
        return
    change = Change(kind, sim.fault_rng.choice(choices))
    try:
        core.propose_change(change)
    except (MembershipError, NotLeader) as refused:
        sim.log(f"n{leader.id} refuses {kind.value} n{change.node}: {refused}")
        return
    if kind is ChangeKind.REMOVE:
        sim.removed.add(change.node)
    counter = "leader_removals" if leader_itself else _COUNTERS[kind]
    setattr(sim.stats, counter, getattr(sim.stats, counter) + 1)
    sim.note(f"n{leader.id} proposes {kind.value} n{change.node}")
    sim.drive(leader)
