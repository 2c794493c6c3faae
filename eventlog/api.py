"""The store API, declared once: what ``Client``, ``AsyncClient`` and the embedded store offer,
and what ``aggregates`` and ``projections`` type against.

``EventLog`` is the blocking form (``Client``, ``open_embedded``), ``AsyncEventLog`` the
coroutine form (``AsyncClient``). Reads take ``min_position`` to read their own writes from
any node; a cluster client without it reads linearizably from the leader, and the embedded
store, which is its own leader, ignores it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Protocol

from eventlog.records import (
    ANY,
    AppendResult,
    EventFilter,
    LeaseGrant,
    NewEvent,
    NodeStatus,
    Page,
    RecordedEvent,
    Tracking,
)

__all__ = [
    "Appends",
    "AsyncEventLog",
    "EventLog",
]

Appends = Iterable[tuple[str, Iterable[NewEvent], int]]
"""``(stream, events, expected_version)`` for each stream of one atomic append."""


class EventLog(Protocol):
    def append(
        self,
        stream: str,
        events: Iterable[NewEvent],
        expected_version: int = ANY,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult: ...

    def append_multi(
        self,
        appends: Appends,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        """All or nothing, each stream with its own expected version; with ``tracking``, the
        consumer's tracking record too (``TrackingConflict`` if it holds that position or a
        later one already). No streams at all: the tracking record alone."""
        ...

    def read_stream(
        self,
        stream: str,
        from_version: int = 1,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]: ...

    def read_stream_backwards(
        self,
        stream: str,
        from_version: int | None = None,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        """Newest first, from ``from_version`` (None: the stream's last event)."""
        ...

    def read_all(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        """Events in position order: every one, or those ``filter`` keeps (the node that
        reads skips the rest, so they never travel)."""
        ...

    def read_page(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> Page:
        """One bounded read through ``filter``: what it kept, up to ``limit``, and the
        position to go on from, past what it skipped."""
        ...

    def head(self) -> int:
        """The position of the last event (linearizable on a cluster)."""
        ...

    def subscribe(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> Iterator[RecordedEvent]:
        """Committed events from ``from_position`` on, live, until the iterator is closed."""
        ...

    def subscribe_batches(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> Iterator[list[RecordedEvent]]:
        """The same events in the batches they arrive in (each non-empty, in order)."""
        ...

    def subscribe_pages(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> Iterator[Page]:
        """The same as pages: through a filter, also pages of no events that move
        ``next_position`` past a stretch of the log it skipped."""
        ...

    def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant: ...

    def release_lease(self, name: str, owner: str, token: int) -> None: ...

    def leases(self) -> list[LeaseGrant]: ...

    def max_tracking(self, name: str, *, min_position: int | None = None) -> int | None:
        """The position tracking record ``name`` holds; None before its first."""
        ...

    def has_tracking(self, name: str, position: int, *, min_position: int | None = None) -> bool:
        """Has consumer ``name`` processed ``position``: does its record hold it or later?"""
        ...

    def status(self) -> NodeStatus: ...

    def close(self) -> None: ...


class AsyncEventLog(Protocol):
    async def append(
        self,
        stream: str,
        events: Iterable[NewEvent],
        expected_version: int = ANY,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult: ...

    async def append_multi(
        self,
        appends: Appends,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult: ...

    async def read_stream(
        self,
        stream: str,
        from_version: int = 1,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]: ...

    async def read_stream_backwards(
        self,
        stream: str,
        from_version: int | None = None,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]: ...

    async def read_all(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> list[RecordedEvent]: ...

    async def read_page(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> Page: ...

    async def head(self) -> int: ...

    def subscribe(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> AsyncIterator[RecordedEvent]: ...

    def subscribe_batches(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> AsyncIterator[list[RecordedEvent]]: ...

    def subscribe_pages(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> AsyncIterator[Page]: ...

    async def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant: ...

    async def release_lease(self, name: str, owner: str, token: int) -> None: ...

    async def leases(self) -> list[LeaseGrant]: ...

    async def max_tracking(self, name: str, *, min_position: int | None = None) -> int | None: ...

    async def has_tracking(
        self, name: str, position: int, *, min_position: int | None = None
    ) -> bool: ...

    async def status(self) -> NodeStatus: ...

    async def close(self) -> None: ...
