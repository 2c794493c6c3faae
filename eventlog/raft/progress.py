"""What the leader knows about each follower's log, and how fast it may send to it."""

from __future__ import annotations

import enum
from collections import deque

import attrs

from eventlog.types import LogIndex

__all__ = [
    "Inflights",
    "Progress",
    "ProgressState",
]


class ProgressState(enum.Enum):
    PROBE = "probe"
    """The follower's log position is unknown: one AppendEntries, with no entries, per
    heartbeat interval, until it says where its log agrees with ours."""
    REPLICATE = "replicate"
    """The follower is in sync: stream optimistically, bounded by the in-flight window."""


@attrs.define
class Inflights:
    """A window of AppendEntries sent but not acknowledged, bounded in count and bytes."""

    max_count: int
    max_bytes: int
    _sent: deque[tuple[LogIndex, int, int]] = attrs.field(factory=deque)
    """(last index, bytes, tick sent) of each message in the window, oldest first."""
    _bytes: int = 0

    def add(self, last_index: LogIndex, size: int, tick: int = 0) -> None:
        self._sent.append((last_index, size, tick))
        self._bytes += size

    def free_to(self, index: LogIndex) -> None:
        """Release every message whose last entry is at or below ``index``."""
        while self._sent and self._sent[0][0] <= index:
            _, size, _ = self._sent.popleft()
            self._bytes -= size

    def free_first(self) -> None:
        if self._sent:
            _, size, _ = self._sent.popleft()
            self._bytes -= size

    def waited_since(self) -> int | None:
        """The tick the oldest unacknowledged message was sent; None if none is."""
        return self._sent[0][2] if self._sent else None

    def reset(self) -> None:
        self._sent.clear()
        self._bytes = 0

    @property
    def full(self) -> bool:
        return len(self._sent) >= self.max_count or self._bytes >= self.max_bytes

    def __len__(self) -> int:
        return len(self._sent)


@attrs.define
class Progress:
    """Invariant: match < next; in PROBE at most one unanswered AppendEntries (``paused``)."""

    match: LogIndex
    next: LogIndex
    inflights: Inflights
    state: ProgressState = ProgressState.PROBE
    paused: bool = False
    last_heard_tick: int = 0
    """The leader's tick count when this follower last answered (for check-quorum)."""

    def become_probe(self) -> None:
        self.state = ProgressState.PROBE
        self.next = LogIndex(self.match + 1)
        self.paused = False
        self.inflights.reset()

    def become_replicate(self) -> None:
        self.state = ProgressState.REPLICATE
        self.next = LogIndex(self.match + 1)
        self.paused = False
        self.inflights.reset()

    def maybe_update(self, index: LogIndex) -> bool:
        """The follower acknowledged up to ``index``; False if that is old news."""
        updated = index > self.match
        if updated:
            self.match = index
            self.paused = False
        self.next = LogIndex(max(self.next, index + 1))
        return updated

    def maybe_decrease_to(self, rejected: LogIndex, hint_index: LogIndex) -> bool:
        """Move ``next`` back after a rejection; False if the rejection is stale.

        A rejection at ``match`` itself may be stale (sent before the follower caught up) or
        mean the follower lost what it acknowledged (its disk was emptied or replaced): a probe
        at ``match`` tells them apart, since a probe is the one message in flight. If the probe
        is rejected too, the follower holds less than ``match``: ``match`` drops to 0 (nothing
        it holds is known to agree any more, and only an acknowledgement raises it again), so
        the follower is caught up again instead of being left behind for good."""
        if self.state is ProgressState.REPLICATE:
            if rejected < self.match:
                return False
            self.next = LogIndex(self.match + 1)
            return True
        if self.next - 1 != rejected:
            return False
        if self.lost_entries(rejected, hint_index):
            self.match = LogIndex(0)
        self.next = LogIndex(max(min(rejected, hint_index + 1), self.match + 1))
        self.paused = False
        return True

    def lost_entries(self, rejected: LogIndex, hint_index: LogIndex) -> bool:
        """A probe at ``match`` was rejected: the follower no longer holds what it acked."""
        return self.state is ProgressState.PROBE and rejected == self.match > hint_index

    def sent_entries(self, last_index: LogIndex, size: int, tick: int = 0) -> None:
        if self.state is ProgressState.REPLICATE:
            self.next = LogIndex(last_index + 1)
            self.inflights.add(last_index, size, tick)
        else:
            self.paused = True

    def window_lost(self, now: int, timeout: int) -> bool:
        """The window is full and its oldest message has waited ``timeout`` ticks for an
        answer while the follower answers heartbeats: what is in flight was lost (a dropped
        connection, an overflowing queue), and only a probe can find where to go on from."""
        since = self.inflights.waited_since()
        return (
            self.state is ProgressState.REPLICATE
            and self.inflights.full
            and since is not None
            and now - since >= timeout
        )

    @property
    def is_paused(self) -> bool:
        if self.state is ProgressState.PROBE:
            return self.paused
        return self.inflights.full
