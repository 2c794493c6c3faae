"""The feed against an in-memory source: large reads while behind, a live subscription once
caught up, back to reads when the subscription outruns the worker, and every position
delivered once, in order, whatever the source repeats or skips."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine
from typing import Any, TypeVar

import attrs
import pytest

from eventlog import EventFilter, LeaseGrant, NewEvent, Page, RecordedEvent, Unavailable
from projections import Batch, Feed, FeedEnded
from tests.polling import eventually
from tests.projections.test_projection import recorded

T = TypeVar("T")


@attrs.define
class MemorySource:
    log: list[RecordedEvent] = attrs.field(factory=list)
    reads: list[tuple[int, int]] = attrs.field(factory=list)
    open_subscriptions: int = 0
    subscriptions: int = 0
    rewind: int = 0
    """A subscription starts this many events early (duplicates)."""
    skip: set[int] = attrs.field(factory=set)
    """Positions the next subscription leaves out (a gap); then cleared."""
    unavailable: int = 0
    """Reads that fail before one succeeds."""
    ends: bool = False
    broken: bool = False
    """The next subscription fails at once; then cleared."""
    deaf: bool = False
    """The next subscription delivers nothing new (its node is cut off); then cleared."""
    push_batch: int = 1
    """Positions per pushed page, at most (a node pushes up to 1,000 events)."""
    scan: int = 1000
    """Positions a filtered read looks at, at most (a node's ``SCAN_POSITIONS``)."""
    _appended: asyncio.Event = attrs.field(factory=asyncio.Event)

    def append(self, count: int, type: str = "T") -> None:
        start = len(self.log) + 1
        for position in range(start, start + count):
            self.log.append(recorded(NewEvent(type, b""), position=position))
        self._appended.set()

    async def read_page(self, from_position: int, limit: int, filter: EventFilter | None) -> Page:
        self.reads.append((from_position, limit))
        if self.unavailable:
            self.unavailable -= 1
            raise Unavailable("no leader")
        kept: list[RecordedEvent] = []
        looked = from_position - 1
        for event in self.log[from_position - 1 : from_position - 1 + self.scan]:
            looked = event.position
            if filter is None or filter.matches(event.stream, event.type):
                kept.append(event)
                if len(kept) == limit:
                    break
        return Page(kept, looked + 1, len(self.log))

    async def subscribe_pages(
        self, from_position: int, filter: EventFilter | None
    ) -> AsyncGenerator[Page, None]:
        """Whatever the log holds when asked, in pages of up to ``push_batch`` positions:
        without a filter, a page ends at its last event, as a node's batches do."""
        self.subscriptions += 1
        self.open_subscriptions += 1
        skip, self.skip = self.skip, set()
        deaf, self.deaf = self.deaf, False
        broken, self.broken = self.broken, False
        position = max(1, from_position - self.rewind)
        try:
            if broken:
                raise RuntimeError("the node sent something that is not events")
            if deaf:  # a node that accepted the subscription and never sends a thing
                await asyncio.Event().wait()
            while True:
                while position <= len(self.log):
                    end = min(len(self.log), position + self.push_batch - 1)
                    batch = [
                        e
                        for e in self.log[position - 1 : end]
                        if e.position not in skip
                        and (filter is None or filter.matches(e.stream, e.type))
                    ]
                    position = end + 1
                    if filter is not None:
                        yield Page(batch, end + 1, len(self.log))
                    elif batch:
                        yield Page(batch, batch[-1].position + 1, len(self.log))
                if self.ends:
                    return
                self._appended.clear()
                await self._appended.wait()
        finally:
            self.open_subscriptions -= 1

    async def head(self) -> int:
        return len(self.log)

    async def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant:
        raise NotImplementedError

    async def release_lease(self, name: str, owner: str, token: int) -> None:
        raise NotImplementedError

    async def leases(self) -> list[LeaseGrant]:
        return []

    async def close(self) -> None:
        pass


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def positions(batch: Batch | None) -> list[int]:
    assert batch is not None
    return [event.position for event in batch.events]


async def collect(feed: Feed, until: int) -> list[int]:
    seen: list[int] = []
    while not seen or seen[-1] < until:
        seen += positions(await feed.next_batch())
    return seen


def test_pulls_full_batches_then_follows_live() -> None:
    async def scenario() -> None:
        source = MemorySource()
        source.append(25)
        feed = Feed(source, 1, batch_size=10)
        assert positions(await feed.next_batch()) == list(range(1, 11))
        assert positions(await feed.next_batch()) == list(range(11, 21))
        assert positions(await feed.next_batch()) == list(range(21, 26))
        assert source.reads == [(1, 10), (11, 10), (21, 10)]
        source.append(3)
        assert positions(await feed.next_batch()) == [26, 27, 28]
        assert source.subscriptions == 1
        await feed.close()
        await eventually(lambda: source.open_subscriptions == 0)

    run(scenario())


def test_live_batches_arrive_whole_and_are_joined_or_split_to_the_batch_size() -> None:
    async def scenario() -> None:
        source = MemorySource(push_batch=7)
        feed = Feed(source, 1, batch_size=10)
        source.append(1)
        assert positions(await feed.next_batch()) == [1]
        await eventually(lambda: source.open_subscriptions == 1)
        source.append(30)  # pushed as 7, 7, 7, 7, 2
        await eventually(lambda: feed._live is not None and feed._live.buffer.events == 30)
        sizes = []
        seen: list[int] = []
        while len(seen) < 30:
            batch = positions(await feed.next_batch())
            sizes.append(len(batch))
            seen += batch
        assert seen == list(range(2, 32))
        assert sizes == [10, 10, 10], "two pushed batches and part of a third, each time"
        assert source.subscriptions == 1
        await feed.close()

    run(scenario())


def test_starts_from_the_position_it_is_given() -> None:
    async def scenario() -> None:
        source = MemorySource()
        source.append(8)
        feed = Feed(source, 6, batch_size=10)
        assert positions(await feed.next_batch()) == [6, 7, 8]
        await feed.close()

    run(scenario())


def test_repeated_events_are_delivered_once() -> None:
    async def scenario() -> None:
        source = MemorySource(rewind=3)
        source.append(5)
        feed = Feed(source, 1, batch_size=100)
        assert positions(await feed.next_batch()) == [1, 2, 3, 4, 5]
        source.append(2)
        assert positions(await feed.next_batch()) == [6, 7]
        await feed.close()

    run(scenario())


def test_a_gap_is_read_again_instead_of_skipped() -> None:
    async def scenario() -> None:
        source = MemorySource()
        source.append(2)
        feed = Feed(source, 1, batch_size=100)
        assert positions(await feed.next_batch()) == [1, 2]
        source.skip = {4}
        source.append(4)
        assert await collect(feed, 6) == [3, 4, 5, 6]
        await feed.close()

    run(scenario())


def test_a_subscription_that_outruns_the_worker_is_dropped_for_reads() -> None:
    async def scenario() -> None:
        source = MemorySource()
        feed = Feed(source, 1, batch_size=4, live_buffer=8)
        source.append(1)
        assert positions(await feed.next_batch()) == [1]
        source.append(40)
        await eventually(lambda: feed._live is None or feed._live.buffer.full())
        assert await collect(feed, 41) == list(range(2, 42))
        assert source.subscriptions - source.open_subscriptions == 1, "dropped"
        assert any(start > 2 for start, _ in source.reads), "read again"
        await feed.close()

    run(scenario())


def test_reads_are_retried_while_the_source_is_unavailable() -> None:
    async def scenario() -> None:
        source = MemorySource(unavailable=2)
        source.append(3)
        feed = Feed(source, 1, batch_size=10, follow=False)
        assert positions(await feed.next_batch()) == [1, 2, 3]
        assert await feed.next_batch() is None

    run(scenario())


def test_a_subscription_that_ends_ends_the_feed() -> None:
    async def scenario() -> None:
        source = MemorySource(ends=True)
        feed = Feed(source, 1, batch_size=10)
        with pytest.raises(FeedEnded):
            await feed.next_batch()

    run(scenario())


def test_a_stalled_subscription_is_replaced() -> None:
    async def scenario() -> None:
        source = MemorySource(deaf=True)
        feed = Feed(source, 1, batch_size=10, stall_check=0.05)
        source.append(2)
        assert positions(await feed.next_batch()) == [1, 2]
        source.append(3)
        assert positions(await feed.next_batch()) == [3, 4, 5]
        source.append(1)
        assert positions(await feed.next_batch()) == [6]
        assert source.subscriptions == 2
        await feed.close()

    run(scenario())


def test_a_failing_subscription_is_read_past_and_replaced() -> None:
    async def scenario() -> None:
        source = MemorySource(broken=True)
        source.append(2)
        feed = Feed(source, 1, batch_size=10)
        assert positions(await feed.next_batch()) == [1, 2]
        source.append(2)
        assert await collect(feed, 4) == [3, 4]
        source.append(1)
        assert positions(await feed.next_batch()) == [5]
        assert source.subscriptions == 2
        await feed.close()

    run(scenario())


def test_a_filtered_feed_gets_what_it_wants_and_batches_cover_what_it_skipped() -> None:
    async def scenario() -> None:
        source = MemorySource(scan=10)
        source.append(3, "Wanted")
        source.append(25, "Other")
        source.append(2, "Wanted")
        feed = Feed(source, 1, batch_size=100, follow=False, filter=EventFilter(types=("Wanted",)))
        batches = []
        while (batch := await feed.next_batch()) is not None:
            batches.append(batch)
        assert [e.position for b in batches for e in b.events] == [1, 2, 3, 29, 30]
        assert [(b.first, b.last) for b in batches] == [(1, 10), (11, 20), (21, 30)]
        assert feed.position == 31, "past every position, the skipped ones too"

    run(scenario())


def test_a_filtered_live_feed_moves_past_pages_that_held_nothing_for_it() -> None:
    async def scenario() -> None:
        source = MemorySource(push_batch=5)
        feed = Feed(source, 1, batch_size=100, filter=EventFilter(types=("Wanted",)))
        source.append(1, "Wanted")
        assert positions(await feed.next_batch()) == [1]
        await eventually(lambda: source.open_subscriptions == 1)
        source.append(5, "Other")
        skipped = await feed.next_batch()
        assert skipped is not None and skipped.events == []
        assert (skipped.first, skipped.last) == (2, 6)
        source.append(1, "Wanted")
        assert positions(await feed.next_batch()) == [7]
        await feed.close()

    run(scenario())
