"""What a node has to write to one peer: two queues, urgent and bulk, bounded in count and
bytes, and the slice of them one turn of the loop writes."""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Final

import attrs

from eventlog.raft.messages import Message
from eventlog.types import NodeId

__all__ = [
    "DEFAULT_MAX_QUEUE_BYTES",
    "WRITE_SLICE_BYTES",
    "Outbox",
    "message_bytes",
]

WRITE_SLICE_BYTES: Final = 1 << 20
"""Bulk written to a peer in one turn of the loop, about (one AppendEntries at most)."""
DEFAULT_MAX_QUEUE_BYTES: Final = 64 << 20
"""Bytes of entries queued for one peer, at most: a peer that is down or slow costs the
leader this much memory, whatever the write rate; what falls out, Raft sends again."""
_MESSAGE_OVERHEAD = 64


def message_bytes(m: Message) -> int:
    """What a queued message weighs: its entries' data, plus a little for the rest."""
    entries = getattr(m, "entries", ())
    return _MESSAGE_OVERHEAD + sum(len(entry.data) for entry in entries)


@attrs.define(eq=False)
class Outbox:
    """One remote node: its address, its outbound queue and its counters."""

    node_id: NodeId
    host: str
    port: int
    queue: collections.deque[Message] = attrs.field(factory=collections.deque)
    """AppendEntries that carry entries, the bulk. Invariant: len(queue) <= max_queue,
    queued_bytes <= max_queue_bytes (or one message)."""
    queued_bytes: int = 0
    """Bytes of entries the queued messages carry (``message_bytes``)."""
    urgent: collections.deque[Message] = attrs.field(factory=collections.deque)
    """Everything else (heartbeats, votes, answers, empty appends): small, and written
    before any bulk that waits, so no election starts behind a long catch-up. Raft takes
    messages in any order. Invariant: len(urgent) <= max_queue."""
    wakeup: asyncio.Event = attrs.field(factory=asyncio.Event)
    """Set when the queue gains a message or the connection's watcher saw it close."""
    sent: int = 0
    """Messages written and drained to the socket, over all connections."""
    dropped: int = 0
    """Messages discarded: evicted from a full queue, or not encodable within the frame cap."""
    reconnects: int = 0
    """Connection attempts after the first one."""
    connected_at: float | None = None
    """Loop time the current connection came up; None while not connected."""
    unanswered_since: float | None = None
    """Loop time of our first write since we last heard from this peer; None once heard."""
    task: asyncio.Task[None] | None = None
    last_failure: str | None = None
    """Why the last attempt to connect failed: a new reason is logged, a repeated one not."""
    report: list[Any] | None = None
    """The latest alarm report not yet written to this peer."""

    def put(self, m: Message, max_queue: int, max_queue_bytes: int) -> None:
        """Queue ``m`` without blocking; a full queue drops its oldest (Raft sends again)."""
        if not getattr(m, "entries", ()):
            if len(self.urgent) >= max_queue:
                self.urgent.popleft()
                self.dropped += 1
            self.urgent.append(m)
            self.wakeup.set()
            return
        size = message_bytes(m)
        while self.queue and (
            len(self.queue) >= max_queue or self.queued_bytes + size > max_queue_bytes
        ):
            self.queued_bytes -= message_bytes(self.queue.popleft())
            self.dropped += 1
        self.queue.append(m)
        self.queued_bytes += size
        self.wakeup.set()

    def next_slice(self) -> list[Message]:
        """Every urgent message, then bulk up to ``WRITE_SLICE_BYTES`` (one message at least):
        encoding and writing a slice holds the loop for a millisecond or so, never for the
        whole queue, and urgent messages queued meanwhile go out before the next slice."""
        batch = list(self.urgent)
        self.urgent.clear()
        size = 0
        while self.queue and (size == 0 or size < WRITE_SLICE_BYTES):
            m = self.queue.popleft()
            weight = message_bytes(m)
            self.queued_bytes -= weight
            size += weight
            batch.append(m)
        return batch
