"""Values the core persists: log entries and the hard state."""

from __future__ import annotations

import enum

import attrs

from eventlog.types import NO_NODE, LogIndex, NodeId, Term

__all__ = [
    "EMPTY_HARD_STATE",
    "Entry",
    "EntryKind",
    "HardState",
]


class EntryKind(enum.IntEnum):
    """What an entry carries; the host applies only ``NORMAL`` entries' data."""

    NORMAL = 0
    NOOP = 1
    """Appended by a new leader so that it can commit entries of earlier terms (Raft §5.4.2)."""
    CONFIG = 2
    """A new membership (``membership.Membership``), in force once in the log (thesis §4.1)."""


@attrs.frozen(kw_only=True, slots=True)
class Entry:
    term: Term
    index: LogIndex
    data: bytes = b""
    kind: EntryKind = EntryKind.NORMAL

    @property
    def size(self) -> int:
        """Bytes this entry counts against message and in-flight caps."""
        return len(self.data) + 16


@attrs.frozen(kw_only=True, slots=True)
class HardState:
    """What must be on stable storage before the node answers a vote or an append (Figure 2)."""

    term: Term = Term(0)
    vote: NodeId = NO_NODE
    commit: LogIndex = LogIndex(0)


EMPTY_HARD_STATE = HardState()
