"""ReadIndex bookkeeping (thesis §6.4): a read is safe once a quorum confirms the leadership.

The leader records its commit index with the request, sends a heartbeat carrying a round key
of its own, and releases the read (and every read queued before it) once a majority echoes
the key. Round keys come from a counter that never repeats, so callers' contexts need not be
unique across the cluster, and any context, even an empty one, is served.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from eventlog.raft.quorum import has_quorum
from eventlog.types import LogIndex, NodeId

__all__ = [
    "PendingRead",
    "ReadOnly",
    "ReadState",
]


@attrs.frozen(kw_only=True, slots=True)
class ReadState:
    """The host may serve the read with ``context`` once it has applied up to ``index``."""

    index: LogIndex
    context: bytes


@attrs.define
class PendingRead:
    index: LogIndex
    context: bytes
    requester: NodeId
    acks: set[NodeId] = attrs.field(factory=set)


@attrs.define
class ReadOnly:
    _pending: dict[bytes, PendingRead] = attrs.field(factory=dict)
    """By round key, insertion-ordered: reads are released in the order they were requested."""
    _rounds: int = 0
    """Round keys issued so far; kept across terms so that a key is never reused."""

    def add(self, index: LogIndex, context: bytes, requester: NodeId, leader: NodeId) -> bytes:
        """Queue a read; returns the round key its confirming heartbeat must carry."""
        self._rounds += 1
        key = self._rounds.to_bytes(8, "big")
        read = PendingRead(index=index, context=context, requester=requester)
        read.acks.add(leader)
        self._pending[key] = read
        return key

    def ack(self, key: bytes, voter: NodeId) -> bool:
        read = self._pending.get(key)
        if read is not None:
            read.acks.add(voter)
        return read is not None

    def release(self, key: bytes, voters: Iterable[NodeId]) -> list[PendingRead]:
        """Every read up to and including round ``key`` if it reached a quorum, else nothing."""
        read = self._pending.get(key)
        if read is None or not has_quorum(voters, read.acks):
            return []
        released: list[PendingRead] = []
        for pending in list(self._pending):
            released.append(self._pending.pop(pending))
            if pending == key:
                break
        return released

    def last_key(self) -> bytes | None:
        return next(reversed(self._pending), None) if self._pending else None

    def clear(self) -> None:
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)
