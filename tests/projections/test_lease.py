"""The lease keeper over an embedded store's real leases: standby, renewal with the
checkpoint, loss to another owner, and release."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from eventlog import EmbeddedStore, open_embedded
from projections import EmbeddedSource, LeaseLost, lease_name
from projections.lease import LeaseKeeper
from tests.polling import eventually


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with open_embedded(tmp_path / "store", sync=False) as opened:
        yield opened


def keeper(source: EmbeddedSource, owner: str, ttl: float) -> LeaseKeeper:
    return LeaseKeeper(source, "p", owner, ttl, structlog.get_logger().bind(owner=owner))


def test_a_standby_gets_the_lease_once_the_holder_stops_renewing(store: EmbeddedStore) -> None:
    async def scenario() -> None:
        source, stop = EmbeddedSource(store), asyncio.Event()
        first, second = keeper(source, "a", 0.3), keeper(source, "b", 0.3)
        granted = await first.acquire(stop)
        assert granted is not None and first.valid()
        waiting = asyncio.ensure_future(second.acquire(stop))
        await asyncio.sleep(0)
        assert not waiting.done()
        taken = await asyncio.wait_for(waiting, 2)
        assert taken is not None and taken.token > granted.token
        with pytest.raises(LeaseLost, match="now held by 'b'"):
            await asyncio.wait_for(first.keep(), 2)
        assert not first.valid()
        await source.close()

    asyncio.run(scenario())


def test_renewals_carry_the_checkpoint_and_release_hands_over(store: EmbeddedStore) -> None:
    async def scenario() -> None:
        source, stop = EmbeddedSource(store), asyncio.Event()
        holder = keeper(source, "a", 0.3)
        await holder.acquire(stop)
        holder.checkpoint = 42
        renewing = asyncio.ensure_future(holder.keep())
        await eventually(
            lambda: [g.checkpoint for g in store.leases() if g.name == lease_name("p")] == [42]
        )
        renewing.cancel()
        holder.checkpoint = 50
        await holder.release()
        [released] = [g for g in store.leases() if g.name == lease_name("p")]
        assert (released.released, released.checkpoint) == (True, 50), "the last batch reported"
        assert await keeper(source, "b", 0.3).acquire(stop) is not None
        await source.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_standby_stops_waiting_when_asked(store: EmbeddedStore) -> None:
    async def scenario() -> None:
        source, stop = EmbeddedSource(store), asyncio.Event()
        await keeper(source, "a", 30).acquire(stop)
        waiting = asyncio.ensure_future(keeper(source, "b", 30).acquire(stop))
        stop.set()
        assert await asyncio.wait_for(waiting, 2) is None
        await source.close()

    asyncio.run(scenario())
