"""What the repositories need from the event log: the part of its public API they use.
``eventlog.open_embedded(path)`` and ``eventlog.Client`` are ``EventStore``s;
``eventlog.AsyncClient`` is an ``AsyncEventStore``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from eventlog import AppendResult, NewEvent, RecordedEvent


class EventStore(Protocol):
    def append_multi(
        self,
        appends: Iterable[tuple[str, Iterable[NewEvent], int]],
        *,
        request_id: bytes | None = None,
    ) -> AppendResult: ...

    def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]: ...

    def read_stream_backwards(
        self, stream: str, from_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]: ...


class AsyncEventStore(Protocol):
    async def append_multi(
        self,
        appends: Iterable[tuple[str, Iterable[NewEvent], int]],
        *,
        request_id: bytes | None = None,
    ) -> AppendResult: ...

    async def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]: ...

    async def read_stream_backwards(
        self, stream: str, from_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]: ...
