"""Raft's safety properties (Figure 3 of the paper), checked incrementally after every step.

Each check costs O(1) per entry or per event, so the simulator can check everything, always:
    election safety      at most one leader per term
    leader append-only   a leader only appends to its own log
    log matching         same (index, term) => same prefix; checked with a hash of each prefix
    leader completeness  a new leader holds every entry applied anywhere
    state machine safety every node applies the same entry at each index, each entry once
    durability           every acknowledged proposal is on a majority of synced disks
    linearizable reads   a read never returns an index below one already acknowledged
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from eventlog.raft.records import Entry, EntryKind
from eventlog.types import LogIndex, NodeId, Term

__all__ = [
    "InvariantChecker",
    "Violation",
    "prefix_hashes",
]


@attrs.frozen
class Violation:
    invariant: str
    detail: str
    time_ms: float

    def __str__(self) -> str:
        return f"{self.invariant} at {self.time_ms:.1f}ms: {self.detail}"


def prefix_hashes(entries: Sequence[Entry]) -> list[int]:
    hashes: list[int] = []
    previous = 0
    for entry in entries:
        previous = hash((previous, entry.term, entry.data))
        hashes.append(previous)
    return hashes


@attrs.define
class InvariantChecker:
    now: Callable[[], float]
    violations: list[Violation] = attrs.field(factory=list)
    leader_of_term: dict[Term, NodeId] = attrs.field(factory=dict)
    elected: set[tuple[Term, NodeId]] = attrs.field(factory=set)
    prefix_of: dict[tuple[LogIndex, Term], int] = attrs.field(factory=dict)
    node_hashes: dict[NodeId, list[int]] = attrs.field(factory=dict)
    applied: list[Entry] = attrs.field(factory=list)
    """The one true sequence of applied entries, index i at position i - 1."""
    index_of_data: dict[bytes, LogIndex] = attrs.field(factory=dict)
    acknowledged: dict[bytes, tuple[LogIndex, Term]] = attrs.field(factory=dict)
    max_acknowledged: LogIndex = LogIndex(0)

    def fail(self, invariant: str, detail: str) -> None:
        self.violations.append(Violation(invariant, detail, self.now()))

    # -- election safety ------------------------------------------------------------------------
    def saw_leader(self, node: NodeId, term: Term) -> bool:
        """Record that ``node`` leads ``term``; True the first time (a leader was elected)."""
        known = self.leader_of_term.setdefault(term, node)
        if known != node:
            self.fail("election_safety", f"nodes {known} and {node} both lead term {term}")
            return False
        if (term, node) in self.elected:
            return False
        self.elected.add((term, node))
        return True

    # -- log matching and leader append-only ---------------------------------------------------
    def reset_node_log(self, node: NodeId, entries: Sequence[Entry]) -> None:
        """A node restarted: its log is whatever its disk kept."""
        self.node_hashes[node] = prefix_hashes(entries)

    def wrote_entries(self, node: NodeId, entries: Sequence[Entry], as_leader: bool) -> None:
        if not entries:
            return
        hashes = self.node_hashes.setdefault(node, [])
        first = entries[0].index
        if first > len(hashes) + 1:
            self.fail("log_matching", f"node {node} wrote entry {first} after {len(hashes)}")
            return
        if as_leader and first <= len(hashes):
            self.fail("leader_append_only", f"leader {node} overwrote its log from {first}")
        del hashes[first - 1 :]
        previous = hashes[-1] if hashes else 0
        for entry in entries:
            previous = hash((previous, entry.term, entry.data))
            hashes.append(previous)
            known = self.prefix_of.setdefault((entry.index, entry.term), previous)
            if known != previous:
                self.fail(
                    "log_matching",
                    f"node {node} holds ({entry.index}, term {entry.term}) "
                    "after a prefix that differs from another node's",
                )

    # -- leader completeness -------------------------------------------------------------------
    def check_leader_completeness(
        self, node: NodeId, term_at: Callable[[LogIndex], Term | None]
    ) -> None:
        for entry in self.applied:
            if term_at(entry.index) != entry.term:
                self.fail(
                    "leader_completeness",
                    f"new leader {node} lacks committed entry ({entry.index}, term {entry.term})",
                )
                return

    # -- state machine safety ------------------------------------------------------------------
    def applied_entry(self, node: NodeId, entry: Entry, expected_index: int) -> None:
        if entry.index != expected_index:
            self.fail(
                "state_machine_safety", f"node {node} applied {entry.index}, not {expected_index}"
            )
            return
        if entry.index <= len(self.applied):
            first = self.applied[entry.index - 1]
            if first.term != entry.term or first.data != entry.data:
                self.fail(
                    "state_machine_safety",
                    f"node {node} applied ({entry.index}, term {entry.term}) where another "
                    f"applied (term {first.term})",
                )
            return
        self.applied.append(entry)
        if entry.kind is EntryKind.NORMAL:
            earlier = self.index_of_data.setdefault(entry.data, entry.index)
            if earlier != entry.index:
                self.fail(
                    "no_duplicates",
                    f"proposal {entry.data!r} applied at {earlier} and {entry.index}",
                )

    # -- durability ----------------------------------------------------------------------------
    def acknowledge(self, data: bytes, index: LogIndex, term: Term) -> None:
        self.acknowledged[data] = (index, term)
        self.max_acknowledged = LogIndex(max(self.max_acknowledged, index))

    def check_durable(self, on_a_majority: Callable[[LogIndex, Term], bool]) -> None:
        """Every acknowledged proposal must be on a majority of synced disks (of the voters
        of a configuration that may count one now: ``sim.members.durable_quorum_holds``)."""
        for data, (index, term) in self.acknowledged.items():
            if not on_a_majority(index, term):
                self.fail(
                    "durability",
                    f"acknowledged {data!r} at ({index}, term {term}) is not synced on a "
                    "majority of voters",
                )
                return

    def check_all_acknowledged_applied(self, node: NodeId, applied: Sequence[Entry]) -> None:
        for data, (index, term) in self.acknowledged.items():
            if (
                len(applied) < index
                or applied[index - 1].data != data
                or applied[index - 1].term != term
            ):
                self.fail("durability", f"node {node} lacks acknowledged {data!r} at {index}")
                return

    # -- reads ---------------------------------------------------------------------------------
    def read_served(self, node: NodeId, index: LogIndex, acknowledged_before: LogIndex) -> None:
        if index < acknowledged_before:
            self.fail(
                "linearizable_read",
                f"node {node} served a read at {index} after {acknowledged_before} "
                "was acknowledged",
            )
