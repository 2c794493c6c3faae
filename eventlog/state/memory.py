"""The applied state in plain dicts: the ``StateView`` that the simulator and the tests apply
through, committing each write set as the LMDB storage does (so what they check is the same
state machine a node runs, on another disk)."""

from __future__ import annotations

import attrs

from eventlog.records import LeaseGrant
from eventlog.security.access import DEFAULT_ACCESS, AccessState
from eventlog.state.machine import INITIAL_DIGEST, IndexedEvent, WriteSet, apply_entry
from eventlog.state.outcomes import Outcome
from eventlog.types import LogIndex, Position

__all__ = [
    "MemoryState",
]


@attrs.define
class MemoryState:
    """Invariant: ``events`` positions are 1..``position``; ``chain`` is the digest after the
    last of them; ``applied`` is the last entry whose effects are here."""

    versions: dict[str, int] = attrs.field(factory=dict)
    outcomes: dict[bytes, Outcome] = attrs.field(factory=dict)
    position: Position = Position(0)
    chain: bytes = INITIAL_DIGEST
    clock: int = 0
    lease_counter: int = 0
    granted: dict[str, LeaseGrant] = attrs.field(factory=dict)
    events: list[IndexedEvent] = attrs.field(factory=list)
    applied: LogIndex = LogIndex(0)
    cluster: str = ""
    auth: AccessState = DEFAULT_ACCESS
    tracked: dict[str, int] = attrs.field(factory=dict)

    # -- StateView -----------------------------------------------------------------------------
    def stream_version(self, stream: str) -> int:
        return self.versions.get(stream, 0)

    def request_outcome(self, request_id: bytes) -> Outcome | None:
        return self.outcomes.get(request_id)

    def last_position(self) -> Position:
        return self.position

    def digest(self) -> bytes:
        return self.chain

    def clock_ms(self) -> int:
        return self.clock

    def lease(self, name: str) -> LeaseGrant | None:
        return self.granted.get(name)

    def lease_token(self) -> int:
        return self.lease_counter

    def cluster_id(self) -> str:
        return self.cluster

    def access(self) -> AccessState:
        return self.auth

    def tracking(self, name: str) -> int | None:
        return self.tracked.get(name)

    # -- applying ------------------------------------------------------------------------------
    def apply(self, *entries: bytes, first_index: int = 1) -> list[list[Outcome]]:
        """Apply the batches of consecutive entries in one write set, then commit it; the
        outcomes of each entry's requests, in order."""
        writes = WriteSet.over(self)
        result = [
            apply_entry(self, writes, LogIndex(first_index + i), data)
            for i, data in enumerate(entries)
        ]
        self.commit(writes)
        self.applied = LogIndex(first_index + len(entries) - 1)
        return result

    def commit(self, writes: WriteSet) -> None:
        """Take in what one apply call changed."""
        self.versions.update(writes.stream_versions)
        self.outcomes.update(writes.outcomes)
        self.position, self.chain, self.clock = writes.last_position, writes.digest, writes.clock_ms
        self.events.extend(writes.events)
        self.lease_counter, self.cluster = writes.lease_token, writes.cluster_id
        self.auth = writes.access
        self.tracked.update(writes.tracking)
        for name, grant in writes.leases.items():
            if grant is None:
                self.granted.pop(name, None)
            else:
                self.granted[name] = grant
