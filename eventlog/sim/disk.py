"""A simulated disk: the in-memory storage plus fsync latency and crashes that lose writes."""

from __future__ import annotations

import random

import attrs

from eventlog.raft.records import Entry, HardState
from eventlog.raft.storage import MemoryStorage

__all__ = [
    "SimDisk",
]


@attrs.define
class SimDisk:
    rng: random.Random
    min_fsync_ms: float = 0.5
    max_fsync_ms: float = 4.0
    storage: MemoryStorage = attrs.field(factory=MemoryStorage)
    fsyncs: int = 0

    def write(self, state: HardState | None, entries: tuple[Entry, ...]) -> None:
        self.storage.write(state, entries)

    def fsync_latency(self) -> float:
        return self.rng.uniform(self.min_fsync_ms, self.max_fsync_ms)

    def sync(self) -> None:
        self.fsyncs += 1
        self.storage.sync()

    def crash(self) -> int:
        """Lose power: keep what was synced plus a random prefix of the rest; writes lost."""
        pending = self.storage.unsynced_write_count
        survivors = self.rng.randint(0, pending)
        self.storage = self.storage.crash(survivors)
        return pending - survivors
