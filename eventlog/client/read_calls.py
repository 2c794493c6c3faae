"""The calls of a client that read: pages of the log (through a filter or not) and of a
stream, and subscriptions, each on a connection of its own. A read of many events travels as
many pages, each its own call, so no answer approaches the frame cap."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncGenerator
from typing import Any

import attrs

from eventlog.client.connection import Connection
from eventlog.client.policy import SUBSCRIPTION_PAUSE, Retry, answer, next_address
from eventlog.protocol import answers, reads
from eventlog.records import EventFilter, Page, RecordedEvent

__all__ = [
    "SUBSCRIPTION_BUFFER",
    "ReadCalls",
]

SUBSCRIPTION_BUFFER = 8
"""Batches a subscription holds for its consumer before it stops reading the socket."""


class ReadCalls:
    """Mixed into ``AsyncClient``, whose ``_call`` and ``_dial`` carry them."""

    timeout: float
    addresses: list[str]
    _target: str
    _rng: random.Random

    async def _call(self, op: str, args: dict[str, Any], *, follow_leader: bool = True) -> Any:
        raise NotImplementedError

    async def _dial(self, address: str, timeout: float) -> Connection:
        raise NotImplementedError

    def _learn(self, connection: Connection) -> None:
        raise NotImplementedError

    async def read_stream(
        self,
        stream: str,
        from_version: int = 1,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        read = reads.ReadStream(stream=stream, from_version=from_version, limit=limit)
        return await self._read("read_stream", read, min_position)

    async def read_stream_backwards(
        self,
        stream: str,
        from_version: int | None = None,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        """Events of ``stream`` newest first, from ``from_version`` (None: its last event)."""
        read = reads.ReadStreamBackwards(stream=stream, from_version=from_version, limit=limit)
        return await self._read("read_stream_backwards", read, min_position)

    async def read_all(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        """Events in position order; with ``filter``, those it keeps (the node skips the
        rest), page after page until ``limit`` or the head."""
        read = reads.ReadPage(from_position=from_position, limit=limit, filter=filter)
        if read.filter is None:
            whole = reads.ReadAll(from_position=from_position, limit=limit)
            return await self._read("read_all", whole, min_position)
        events: list[RecordedEvent] = []
        start: int | None = read.from_position
        while start is not None:
            wanted = None if read.limit is None else read.limit - len(events)
            page = await self._page(
                attrs.evolve(read, from_position=start, limit=wanted), min_position
            )
            events += page.events
            start = reads.next_filtered(page, read.limit, len(events))
        return events

    async def read_page(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> Page:
        """One bounded read through ``filter``: what it kept, and how far it looked."""
        read = reads.ReadPage(from_position=from_position, limit=limit, filter=filter)
        return await self._page(read, min_position)

    async def _page(self, read: reads.ReadPage, min_position: int | None) -> Page:
        args = reads.args_of(attrs.evolve(read, limit=reads.page_limit(read.limit)))
        if reads.check_min_position(min_position) is not None:
            args["min_position"] = min_position
        payload = await self._call("read_page", args, follow_leader=min_position is None)
        return answers.unpack_page(payload)

    async def subscribe(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> AsyncGenerator[RecordedEvent, None]:
        """Committed events from ``from_position`` on (those ``filter`` keeps), live, one at a
        time: the events of ``subscribe_pages``."""
        async with contextlib.aclosing(self.subscribe_pages(from_position, filter=filter)) as pages:
            async for page in pages:
                for event in page.events:
                    yield event

    async def subscribe_batches(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> AsyncGenerator[list[RecordedEvent], None]:
        """The same events in the batches the node pushes (up to 1,000 events each, never
        empty): a consumer that applies batches takes them as they come."""
        async with contextlib.aclosing(self.subscribe_pages(from_position, filter=filter)) as pages:
            async for page in pages:
                if page.events:
                    yield page.events

    async def subscribe_pages(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> AsyncGenerator[Page, None]:
        """The same as pages: through a filter, a page may hold no events and still move
        ``next_position`` on past a stretch the filter skipped. Each attempt has a connection
        of its own, so a slow consumer slows only its own stream (TCP flow control); a failed
        one resumes after the last page yielded, from the next address."""
        position = reads.Subscribe(from_position=from_position, filter=filter).from_position
        while True:
            connection: Connection | None = None
            try:
                connection = await self._dial(self._target, self.timeout)
                args = reads.args_of(reads.Subscribe(from_position=position, filter=filter))
                queue = connection.open_stream("subscribe", args, SUBSCRIPTION_BUFFER)
                while True:
                    item = await queue.get()
                    self._learn(connection)
                    if isinstance(item, Exception):
                        raise item
                    if isinstance(item, tuple):  # an answer instead of events: an error
                        kind, payload = item
                        answer(kind, payload, follow_leader=False)
                        raise Retry(f"subscription ended: {payload!r:.80}")
                    page = _pushed_page(item)
                    position = page.next_position
                    yield page
            except (Retry, OSError):
                self._target = next_address(self.addresses, self._target)
                await asyncio.sleep(self._rng.uniform(*SUBSCRIPTION_PAUSE))
            finally:
                if connection is not None:
                    await connection.close()

    async def _read(
        self, op: str, read: reads.PagedRead, min_position: int | None
    ) -> list[RecordedEvent]:
        """All the events ``read`` asks for, a page at a time (each page its own call): a
        read of a long log never travels as one frame."""
        reads.check_min_position(min_position)
        result: list[RecordedEvent] = []
        remaining: reads.PagedRead | None = read
        while remaining is not None:
            wanted = None if read.limit is None else read.limit - len(result)
            page_read = attrs.evolve(remaining, limit=reads.page_limit(wanted))
            args = reads.args_of(page_read)
            if min_position is not None:
                args["min_position"] = min_position
            payload = await self._call(op, args, follow_leader=min_position is None)
            page = [answers.unpack_event(raw) for raw in payload]
            result.extend(page)
            if read.limit is not None and len(result) >= read.limit:
                break
            remaining = reads.next_page(page_read, page)
        return result


def _pushed_page(item: Any) -> Page:
    """A pushed page (``answers.pack_page``), or a batch of events alone, as a node pushes
    for a subscription without a filter (then it ends after its last event; ``head`` is
    not known, and taken as that event's position)."""
    if isinstance(item, dict):
        return answers.unpack_page(item)
    events = [answers.unpack_event(raw) for raw in item]
    if not events:
        raise Retry("a node pushed an empty batch")
    last = events[-1].position
    return Page(events, last + 1, last)
