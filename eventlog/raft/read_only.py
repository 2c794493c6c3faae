"""ReadIndex bookkeeping (thesis §6.4): a read is safe once a quorum confirms the leadership.

The leader records its commit index with the request's context, sends a heartbeat carrying the
context, and releases the read (and every read queued before it) once a majority echoes it.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from eventlog.raft.quorum import has_quorum
from eventlog.types import LogIndex, NodeId


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
    """Insertion-ordered: reads are released in the order they were requested."""

    def add(self, index: LogIndex, context: bytes, requester: NodeId, leader: NodeId) -> None:
        if context not in self._pending:
            self._pending[context] = PendingRead(index=index, context=context, requester=requester)
            self._pending[context].acks.add(leader)

    def ack(self, context: bytes, voter: NodeId) -> set[NodeId] | None:
        read = self._pending.get(context)
        if read is None:
            return None
        read.acks.add(voter)
        return read.acks

    def release(self, context: bytes, voters: Iterable[NodeId]) -> list[PendingRead]:
        """Every read up to and including ``context`` if it reached a quorum, else nothing."""
        read = self._pending.get(context)
        if read is None or not has_quorum(voters, read.acks):
            return []
        released: list[PendingRead] = []
        for key in list(self._pending):
            released.append(self._pending.pop(key))
            if key == context:
                break
        return released

    def last_context(self) -> bytes | None:
        return next(reversed(self._pending), None) if self._pending else None

    def clear(self) -> None:
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)
