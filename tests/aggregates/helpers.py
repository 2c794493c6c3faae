"""Stores wrapped for tests: one that records the reads a repository makes, one that loses
the answer to an append (as a timeout does), and an async face on the embedded store."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from eventlog import AppendResult, EmbeddedStore, NewEvent, RecordedEvent, Tracking, Unavailable

Appends = Iterable[tuple[str, Iterable[NewEvent], int]]


@attrs.define
class RecordingStore:
    """Delegates to ``inner`` and records each read as (op, stream, from_version, limit)."""

    inner: Any
    reads: list[tuple[str, str, int | None, int | None]] = attrs.Factory(list)

    def append_multi(
        self,
        appends: Appends,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        result: AppendResult = self.inner.append_multi(
            appends, request_id=request_id, tracking=tracking
        )
        return result

    def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        self.reads.append(("forward", stream, from_version, limit))
        events: list[RecordedEvent] = self.inner.read_stream(stream, from_version, limit)
        return events

    def read_stream_backwards(
        self, stream: str, from_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]:
        self.reads.append(("backward", stream, from_version, limit))
        events: list[RecordedEvent] = self.inner.read_stream_backwards(stream, from_version, limit)
        return events

    def forward_reads(self, stream: str) -> list[tuple[int | None, int | None]]:
        return [(r[2], r[3]) for r in self.reads if r[0] == "forward" and r[1] == stream]


@attrs.define
class LostAnswerStore(RecordingStore):
    """Commits the next append but answers ``Unavailable``, as when a deadline passes
    after the cluster committed."""

    lose_next: bool = False

    def append_multi(
        self,
        appends: Appends,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        result = super().append_multi(appends, request_id=request_id, tracking=tracking)
        if self.lose_next:
            self.lose_next = False
            raise Unavailable("the answer was lost")
        return result


@attrs.define
class AsyncEmbedded:
    """The embedded store behind the async store protocol."""

    inner: EmbeddedStore

    async def append_multi(
        self,
        appends: Appends,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        return self.inner.append_multi(appends, request_id=request_id, tracking=tracking)

    async def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        return self.inner.read_stream(stream, from_version, limit)

    async def read_stream_backwards(
        self, stream: str, from_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]:
        return self.inner.read_stream_backwards(stream, from_version, limit)
