"""The core's view of the log: what storage holds plus the unstable suffix not yet persisted.

Invariants (checked by the simulator, relied upon here):
    applied <= committed
    committed <= last_index
    unstable entries occupy [offset, offset + len(unstable)) and override storage from offset on
    persisted entries occupy [first_index, offset)
    offset - 1 <= in_progress <= last_index: entries up to in_progress are handed to the host
    applied <= applying <= committed: entries up to applying are handed to the host to apply
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from eventlog.errors import InvariantViolation
from eventlog.raft.records import Entry
from eventlog.raft.storage import LogStorage, limit_size
from eventlog.types import LogIndex, Term

__all__ = [
    "RaftLog",
]


@attrs.define
class RaftLog:
    storage: LogStorage
    committed: LogIndex
    applied: LogIndex
    offset: LogIndex
    """Index of the first unstable entry; every entry below it is in storage."""
    unstable: list[Entry] = attrs.field(factory=list)
    in_progress: LogIndex = LogIndex(0)
    """The last entry handed to the host to persist: a Ready may be handed out before the
    host has written the previous one (etcd's ``offsetInProgress``)."""
    applying: LogIndex = LogIndex(0)
    """The last entry handed to the host to apply (etcd's ``applyingEnts``)."""
    on_append: Callable[[Sequence[Entry]], object] | None = None
    """Told of every append (the log then ends with those entries): configurations live in
    the log, and one truncated away is no longer in force."""

    @classmethod
    def open(cls, storage: LogStorage, committed: LogIndex, applied: LogIndex) -> RaftLog:
        last = storage.last_index()
        committed = LogIndex(min(committed, last))
        applied = LogIndex(min(applied, committed))
        return cls(
            storage=storage,
            committed=committed,
            applied=applied,
            offset=LogIndex(last + 1),
            in_progress=last,
            applying=applied,
        )

    # -- reading -------------------------------------------------------------------------------
    def last_index(self) -> LogIndex:
        if self.unstable:
            return LogIndex(self.offset + len(self.unstable) - 1)
        return self.storage.last_index()

    def term(self, index: LogIndex) -> Term | None:
        """Term at ``index``, 0 at index 0, ``None`` past the end."""
        if index >= self.offset:
            position = index - self.offset
            return self.unstable[position].term if position < len(self.unstable) else None
        if index == 0:
            return Term(0)
        if index > self.storage.last_index():
            return None
        return self.storage.term(index)

    def last_term(self) -> Term:
        term = self.term(self.last_index())
        assert term is not None
        return term

    def match_term(self, index: LogIndex, term: Term) -> bool:
        return self.term(index) == term

    def slice(self, lo: LogIndex, hi: LogIndex, max_bytes: int | None = None) -> list[Entry]:
        """Entries in ``[lo, hi)``, at most ``max_bytes`` of them but at least one."""
        if lo >= hi:
            return []
        result: list[Entry] = []
        if lo < self.offset:
            result = self.storage.entries(lo, LogIndex(min(hi, self.offset)), max_bytes)
            if len(result) < min(hi, self.offset) - lo:
                return result
        if hi > self.offset:
            start = max(lo, self.offset) - self.offset
            result.extend(self.unstable[start : hi - self.offset])
        return limit_size(result, max_bytes)

    def is_up_to_date(self, last_index: LogIndex, last_term: Term) -> bool:
        """Election restriction (Raft §5.4.1): is a candidate's log at least as up to date?"""
        my_term = self.last_term()
        return last_term > my_term or (last_term == my_term and last_index >= self.last_index())

    def find_conflict_by_term(self, index: LogIndex, term: Term) -> tuple[LogIndex, Term]:
        """The largest index <= ``index`` whose term is <= ``term``, with that term.

        Both sides use it: the follower to build its rejection hint, the leader to jump over a
        run of entries the follower cannot have.
        """
        index = LogIndex(min(index, self.last_index()))
        while index > 0:
            found = self.term(index)
            if found is None or found <= term:
                return index, found if found is not None else Term(0)
            index = LogIndex(index - 1)
        return LogIndex(0), Term(0)

    # -- writing -------------------------------------------------------------------------------
    def append(self, entries: Sequence[Entry]) -> LogIndex:
        """Append, truncating any unstable or stable suffix from the first entry's index on."""
        if not entries:
            return self.last_index()
        first = entries[0].index
        if first <= self.committed:
            raise InvariantViolation(f"truncating committed entry {first} <= {self.committed}")
        if first == self.offset + len(self.unstable):
            self.unstable.extend(entries)
        elif first <= self.offset:
            self.offset = first
            self.unstable = list(entries)
        else:
            del self.unstable[first - self.offset :]
            self.unstable.extend(entries)
        # Entries handed to the host but replaced now are handed again; the host's writes
        # land in order, so the later write replaces the earlier one.
        self.in_progress = LogIndex(min(self.in_progress, first - 1))
        if self.on_append is not None:
            self.on_append(entries)
        return self.last_index()

    def maybe_append(
        self, prev_index: LogIndex, prev_term: Term, committed: LogIndex, entries: Sequence[Entry]
    ) -> LogIndex | None:
        """AppendEntries receiver rules 2-5 (Figure 2); the new last index, or None on mismatch."""
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = LogIndex(prev_index + len(entries))
        conflict = self._find_conflict(entries)
        if conflict:
            self.append(entries[conflict - prev_index - 1 :])
        self.commit_to(LogIndex(min(committed, last_new)))
        return last_new

    def _find_conflict(self, entries: Sequence[Entry]) -> int:
        """Index of the first entry that is new or differs in term; 0 if all are present."""
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def commit_to(self, index: LogIndex) -> bool:
        if index <= self.committed:
            return False
        if index > self.last_index():
            raise InvariantViolation(f"commit {index} beyond last index {self.last_index()}")
        self.committed = index
        return True

    def maybe_commit(self, index: LogIndex, term: Term) -> bool:
        """Commit ``index`` only if it belongs to ``term``, the leader's own (Raft §5.4.2)."""
        return index > self.committed and self.term(index) == term and self.commit_to(index)

    # -- host acknowledgements -----------------------------------------------------------------
    def has_unhanded(self) -> bool:
        """Are there entries the host has not been asked to persist yet?"""
        return self.offset + len(self.unstable) - 1 > self.in_progress

    def unstable_entries(self) -> tuple[Entry, ...]:
        """The entries not yet handed to the host to persist."""
        return tuple(self.unstable[self.in_progress + 1 - self.offset :])

    def persisting_to(self, index: LogIndex) -> None:
        """The host was handed entries up to ``index`` to persist."""
        self.in_progress = index

    def stable_to(self, index: LogIndex, term: Term) -> None:
        """The host persisted entries up to ``index``; keep what was appended since."""
        if index < self.offset or self.term(index) != term:
            return  # a newer append replaced what was persisted; it is still unstable
        del self.unstable[: index - self.offset + 1]
        self.offset = LogIndex(index + 1)
        self.in_progress = LogIndex(max(self.in_progress, index))

    def committed_to_apply(self, max_bytes: int | None) -> list[Entry]:
        """Committed entries not yet handed to the host to apply."""
        return self.slice(LogIndex(self.applying + 1), LogIndex(self.committed + 1), max_bytes)

    def applying_to(self, index: LogIndex) -> None:
        """The host was handed entries up to ``index`` to apply."""
        if index > self.committed or index <= self.applying:
            raise InvariantViolation(
                f"applying {index} outside ({self.applying}, {self.committed}]"
            )
        self.applying = index

    def applied_to(self, index: LogIndex) -> None:
        if index > self.applying or index < self.applied:
            raise InvariantViolation(f"applied {index} outside [{self.applied}, {self.applying}]")
        self.applied = index
