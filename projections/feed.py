"""The events a worker applies, as batches: pulled in large reads while it is behind, then
pushed by a live subscription once it has caught up.

Backpressure: while pulling, at most one read is in flight ahead of the batch being applied,
so a slow target slows the reads. A live subscription is pushed into a bounded buffer; when a
batch finds that buffer full, the worker is falling behind, so the feed drops the
subscription (closing its connection, which stops the node pushing) and pulls again until it
catches up. A slow target therefore never lets a backlog build up for longer than one batch
takes to apply (the client reading the subscription's socket does not bound its own queue).

A live subscription that delivers nothing while the log moves on (its node died, or is cut off
from the leader) is dropped the same way, and the next one starts elsewhere.

A feed may read through a filter (``EventFilter``: the event types a projection handles,
its stream prefixes), applied by the node, so what it skips never travels; each batch still
says which stretch of the log it covers, skipped positions included, so the checkpoint moves
past them.

Delivery is at least once and in order: events at positions already delivered are dropped,
and, without a filter, a gap (which the log never has) makes the feed read again from the
first missing position.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

import attrs
import structlog

from eventlog import EventFilter, Page, RecordedEvent, Unavailable
from projections.errors import FeedEnded
from projections.source import EventSource

RESUBSCRIBE_DELAY = 0.2
"""Seconds between a failed subscription and the next, so a failing one cannot spin."""
_END = object()
"""Put in the live buffer when the subscription ends (an embedded store was closed)."""


@attrs.frozen
class Batch:
    """Events to apply, and the stretch of the log they cover: every position from ``first``
    to ``last`` was looked at; the events are those of them the feed's filter kept (all of
    them without one). A batch may hold no events: the filter skipped the whole stretch."""

    events: list[RecordedEvent]
    first: int
    last: int


@attrs.define
class _Buffer:
    """What a live subscription pushed and the worker has not taken: whole pages, as they
    came, bounded by the number of events in them (``limit``; a page of none counts as one),
    and the subscription's end (``_END`` or its exception) last."""

    limit: int
    items: collections.deque[Page | object] = attrs.field(factory=collections.deque)
    events: int = 0
    _changed: asyncio.Event = attrs.field(factory=asyncio.Event)

    def full(self) -> bool:
        return self.events >= self.limit

    async def put(self, item: Page | object) -> None:
        while self.full():  # wait for room: the subscription's socket is not read meanwhile
            await self._wait()
        self.items.append(item)
        self.events += _weight(item)
        self._changed.set()

    async def get(self, timeout: float) -> Page | object:
        async with asyncio.timeout(timeout):
            while not self.items:
                await self._wait()
        return self.take()

    def take(self) -> Page | object:
        item = self.items.popleft()
        self.events -= _weight(item)
        self._changed.set()
        return item

    def give_back(self, page: Page) -> None:
        """Put the rest of a page taken in part back in front."""
        self.items.appendleft(page)
        self.events += _weight(page)

    async def _wait(self) -> None:
        self._changed.clear()
        await self._changed.wait()


def _weight(item: Page | object) -> int:
    return max(1, len(item.events)) if isinstance(item, Page) else 0


@attrs.define
class _Live:
    buffer: _Buffer
    pump: asyncio.Task[None]


@attrs.define
class Feed:
    """Batches from ``position`` on. Invariant: every event delivered so far had a position
    below ``position``, and together they are every event the filter keeps from where the
    feed started to ``position - 1``."""

    source: EventSource
    position: int
    filter: EventFilter | None = None
    batch_size: int = 2000
    live_buffer: int = 10_000
    follow: bool = True
    """False: ``next_batch`` returns an empty batch once caught up, instead of going live."""
    stall_check: float = 1.0
    """Seconds without a live event after which the feed asks the log whether it has moved
    on; if it has, the subscription is stalled (its node died or was cut off from the
    leader) and is replaced."""
    log: structlog.typing.FilteringBoundLogger = attrs.field(
        factory=lambda: structlog.get_logger(__name__)
    )
    _prefetch: asyncio.Task[Page] | None = None
    _live: _Live | None = None

    async def next_batch(self) -> Batch | None:
        """The next batch that moves the feed on (None once caught up, when not following)."""
        while True:
            if self._live is not None:
                page = await self._from_live(self._live)
            else:
                page = await self._pull()
                if page.at_end and not page.events and not self.follow:
                    return None
            batch, gap_at = self._accept(page)
            if gap_at is not None:
                self.log.warning("feed_gap", expected=self.position, got=gap_at)
                await self._restart()
            if batch is not None:
                return batch

    async def close(self) -> None:
        await self._restart()

    # -- pulling ------------------------------------------------------------------------------
    async def _pull(self) -> Page:
        task = self._prefetch or asyncio.ensure_future(self._read(self.position))
        self._prefetch = None
        page = await task
        after = max(page.next_position, self.position)
        if not page.at_end:
            self._prefetch = asyncio.ensure_future(self._read(after))
        elif self.follow:
            self._go_live(after)
        return page

    async def _read(self, start: int) -> Page:
        """One read, retried while the cluster has no leader to answer it."""
        delay = 0.05
        while True:
            try:
                return await self.source.read_page(start, self.batch_size, self.filter)
            except Unavailable as error:
                self.log.warning("source_unavailable", position=start, reason=str(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- following ----------------------------------------------------------------------------
    def _go_live(self, start: int) -> None:
        buffer = _Buffer(self.live_buffer)
        self._live = _Live(buffer, asyncio.ensure_future(self._pump(start, buffer)))
        self.log.info("following_live", position=start)

    async def _pump(self, start: int, buffer: _Buffer) -> None:
        try:
            pages = self.source.subscribe_pages(start, self.filter)
            async with contextlib.aclosing(pages) as pushed:
                async for page in pushed:
                    await buffer.put(page)
            await buffer.put(_END)
        except Exception as error:
            await buffer.put(error)

    async def _from_live(self, live: _Live) -> Page:
        """What the subscription pushed, whole pages joined up to ``batch_size`` events."""
        buffer = live.buffer
        full = buffer.full()
        nothing = Page([], self.position, self.position - 1)
        try:
            first = await buffer.get(self.stall_check)
        except TimeoutError:
            if await self._log_moved_on():
                self.log.warning("subscription_stalled", position=self.position)
                await self._stop_live()
            return nothing
        events: list[RecordedEvent] = []
        reached = self.position
        item = first
        while isinstance(item, Page):
            room = self.batch_size - len(events)
            if len(item.events) > room:
                events += item.events[:room]
                reached = item.events[room - 1].position + 1
                buffer.give_back(Page(item.events[room:], item.next_position, item.head))
                break
            events += item.events
            reached = item.next_position
            if not buffer.items or len(events) >= self.batch_size:
                break
            item = buffer.take()
        else:
            await self._subscription_ended(item, bool(events) or reached > self.position)
            return Page(events, reached, reached - 1)
        if full:
            self.log.info("falling_behind", buffered=self.live_buffer, position=self.position)
            await self._stop_live()
        return Page(events, reached, reached - 1)

    async def _subscription_ended(self, ending: object, delivered: bool) -> None:
        """The source closed the subscription (the feed ends), or it failed: the feed reads
        again, then subscribes anew."""
        await self._stop_live()
        if ending is _END:
            if not delivered:
                raise FeedEnded()
            return
        self.log.warning("subscription_failed", position=self.position, reason=repr(ending))
        await asyncio.sleep(RESUBSCRIBE_DELAY)

    async def _log_moved_on(self) -> bool:
        try:
            return await self.source.head() >= self.position
        except Unavailable:
            return False

    async def _stop_live(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live.pump

    async def _restart(self) -> None:
        """Forget whatever is in flight; the next batch is read from ``position``."""
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            prefetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await prefetch
        await self._stop_live()

    def _accept(self, page: Page) -> tuple[Batch | None, int | None]:
        """Drop what was delivered already; without a filter, stop at a gap. Returns the batch
        (None if the page moves nothing on) and where a gap was found."""
        first, events = self.position, page.events
        if (
            events
            and events[0].position >= first
            and (
                self.filter is not None
                or (events[0].position == first and events[-1].position - first == len(events) - 1)
            )
        ):  # the usual page: all of it new, and (without a filter) dense from here
            self.position = max(events[-1].position + 1, page.next_position)
            return Batch(events, first, self.position - 1), None
        events = []
        for event in page.events:
            if event.position < self.position:
                continue
            if self.filter is None and event.position > self.position:
                return _covering(events, first, self.position - 1), event.position
            events.append(event)
            self.position = event.position + 1
        self.position = max(self.position, page.next_position)
        return _covering(events, first, self.position - 1), None


def _covering(events: list[RecordedEvent], first: int, last: int) -> Batch | None:
    return Batch(events, first, last) if last >= first else None
