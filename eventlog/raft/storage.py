"""Storage ports of the core, and an in-memory twin that models fsync.

The core only *reads* storage (``LogStorage`` for entries, ``StateStorage`` for the hard state);
the host writes what each ``Ready`` hands it, then calls ``advance()``. The split follows
hashicorp's LogStore/StableStore and etcd's own TODO to split its Storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from eventlog.errors import EventLogError
from eventlog.raft.records import EMPTY_HARD_STATE, Entry, HardState
from eventlog.types import LogIndex, Term

__all__ = [
    "EntryUnavailable",
    "LogStorage",
    "MemoryStorage",
    "StateStorage",
    "StorageError",
    "limit_size",
]


class StorageError(EventLogError):
    """Raised by a storage port asked for something it does not hold."""


class EntryUnavailable(StorageError):
    def __init__(self, index: int) -> None:
        self.index = index
        super().__init__(f"log entry {index} is not in storage")


class LogStorage(Protocol):
    """Read side of the durable log. Indexes start at 1; ``last_index() == 0`` means empty."""

    def first_index(self) -> LogIndex: ...

    def last_index(self) -> LogIndex: ...

    def term(self, index: LogIndex) -> Term:
        """Term at ``index``; 0 at index 0; ``EntryUnavailable`` past the end."""
        ...

    def entries(self, lo: LogIndex, hi: LogIndex, max_bytes: int | None = None) -> list[Entry]:
        """Entries in ``[lo, hi)``; at least one if the range is not empty, even over max_bytes."""
        ...


class StateStorage(Protocol):
    def hard_state(self) -> HardState: ...


def limit_size(entries: Sequence[Entry], max_bytes: int | None) -> list[Entry]:
    """The longest prefix within ``max_bytes`` (but at least one entry, so progress is made)."""
    if max_bytes is None or not entries:
        return list(entries)
    total = 0
    for count, entry in enumerate(entries):
        total += entry.size
        if total > max_bytes and count > 0:
            return list(entries[:count])
    return list(entries)


@attrs.define
class _Image:
    """What a disk holds at one instant: the log and the hard state."""

    log: list[Entry] = attrs.field(factory=list)
    state: HardState = EMPTY_HARD_STATE

    def copy(self) -> _Image:
        return _Image(log=list(self.log), state=self.state)

    def append(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        first = entries[0].index
        if first > len(self.log) + 1:
            raise StorageError(f"gap in log: appending {first} after {len(self.log)}")
        del self.log[first - 1 :]
        self.log.extend(entries)


@attrs.define
class MemoryStorage:
    """An in-memory disk: writes land in a volatile image, ``sync()`` makes them durable.

    ``crash()`` returns what survives a power loss: the synced image plus, when given a random
    source, an arbitrary prefix of the unsynced writes (the kernel may have flushed some).
    """

    _volatile: _Image = attrs.field(factory=_Image)
    _durable: _Image = attrs.field(factory=_Image)
    _unsynced: list[tuple[HardState | None, tuple[Entry, ...]]] = attrs.field(factory=list)

    # -- LogStorage / StateStorage -------------------------------------------------------------
    def first_index(self) -> LogIndex:
        return LogIndex(1)

    def last_index(self) -> LogIndex:
        return LogIndex(len(self._volatile.log))

    def term(self, index: LogIndex) -> Term:
        if index == 0:
            return Term(0)
        if index > len(self._volatile.log) or index < 0:
            raise EntryUnavailable(index)
        return self._volatile.log[index - 1].term

    def entries(self, lo: LogIndex, hi: LogIndex, max_bytes: int | None = None) -> list[Entry]:
        if lo < 1 or hi > len(self._volatile.log) + 1:
            raise EntryUnavailable(lo if lo < 1 else hi - 1)
        return limit_size(self._volatile.log[lo - 1 : hi - 1], max_bytes)

    def hard_state(self) -> HardState:
        return self._volatile.state

    # -- writes, by the host ---------------------------------------------------------------------
    def write(self, state: HardState | None, entries: Sequence[Entry]) -> None:
        """Write without syncing: visible to reads, lost on a crash unless synced."""
        self._volatile.append(entries)
        if state is not None:
            self._volatile.state = state
        self._unsynced.append((state, tuple(entries)))

    def sync(self) -> None:
        self._durable = self._volatile.copy()
        self._unsynced.clear()

    @property
    def has_unsynced_writes(self) -> bool:
        return bool(self._unsynced)

    def durable_log(self) -> list[Entry]:
        return list(self._durable.log)

    def crash(self, survivors: int = 0) -> MemoryStorage:
        """The disk after a power loss; the first ``survivors`` unsynced writes made it to disk."""
        image = self._durable.copy()
        for state, entries in self._unsynced[:survivors]:
            image.append(entries)
            if state is not None:
                image.state = state
        return MemoryStorage(volatile=image.copy(), durable=image, unsynced=[])

    @property
    def unsynced_write_count(self) -> int:
        return len(self._unsynced)
