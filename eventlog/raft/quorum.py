"""Majority arithmetic, kept pure so it can be tested on its own (etcd's ``quorum`` package)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from eventlog.types import LogIndex, NodeId

__all__ = [
    "VoteResult",
    "committed_index",
    "has_quorum",
    "majority",
    "vote_result",
]


class VoteResult(enum.Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


def majority(size: int) -> int:
    return size // 2 + 1


def committed_index(voters: Iterable[NodeId], match: Mapping[NodeId, LogIndex]) -> LogIndex:
    """The largest index that a majority of ``voters`` has persisted."""
    indexes = sorted((match.get(voter, LogIndex(0)) for voter in voters), reverse=True)
    return indexes[majority(len(indexes)) - 1]


def vote_result(voters: Iterable[NodeId], votes: Mapping[NodeId, bool]) -> VoteResult:
    members = list(voters)
    granted = sum(1 for voter in members if votes.get(voter) is True)
    rejected = sum(1 for voter in members if votes.get(voter) is False)
    needed = majority(len(members))
    if granted >= needed:
        return VoteResult.WON
    if len(members) - rejected < needed:
        return VoteResult.LOST
    return VoteResult.PENDING


def has_quorum(voters: Iterable[NodeId], acked: Iterable[NodeId]) -> bool:
    members = list(voters)
    acked_set = set(acked)
    return sum(1 for voter in members if voter in acked_set) >= majority(len(members))
