"""One active worker per projection: a lease on the replicated log, renewed every third of
its time to live, with the worker's checkpoint recorded at each renewal (for ``status``).

Expiry is judged by the cluster's clock, which this process cannot read, so the keeper also
keeps a local, conservative deadline: a lease renewed by a call sent at local time ``t`` is
taken to last until ``t + SAFETY * ttl``. Past it without a renewal the worker stops writing
by itself. That is only a courtesy: what actually stops a former holder is the fencing token
the target checks on every commit (a new holder always gets a larger one).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn

import attrs
import structlog

from eventlog import EventLogError, LeaseGrant, LeaseHeld, Unavailable
from projections.errors import LeaseLost
from projections.source import EventSource

LEASE_PREFIX = "projection:"
SAFETY = 0.8
"""Share of the time to live this process counts on after sending a renewal."""
RENEWALS_PER_TTL = 3
STANDBY_TRIES_PER_TTL = 6
"""A holder renews every ttl/3, so its lease runs out at most ttl after it died; a standby
asks every ttl/6, so it takes over at most ttl * 7/6 after (each try is one log entry)."""


def lease_name(projection: str) -> str:
    """The lease a projection's workers compete for (``status`` lists it)."""
    return f"{LEASE_PREFIX}{projection}"


@attrs.define
class LeaseKeeper:
    source: EventSource
    projection: str
    owner: str
    ttl: float
    log: structlog.typing.FilteringBoundLogger
    checkpoint: int = 0
    """What the next renewal reports: the position of the last committed batch."""
    grant: LeaseGrant | None = None
    _valid_until: float = 0.0
    """Local monotonic time until which the lease is surely still ours."""

    @property
    def name(self) -> str:
        return lease_name(self.projection)

    def valid(self) -> bool:
        return self.grant is not None and time.monotonic() < self._valid_until

    async def acquire(self, stop: asyncio.Event) -> LeaseGrant | None:
        """Wait as standby until the lease is granted (None if ``stop`` is set first)."""
        holder: str | None = None
        while not stop.is_set():
            try:
                grant = await self._request()
                self.log.info("lease_acquired", token=grant.token, checkpoint=grant.checkpoint)
                return grant
            except LeaseHeld as held:
                if held.owner != holder:
                    holder = held.owner
                    self.log.info("standby", holder=held.owner)
            except Unavailable as error:
                self.log.warning("lease_unavailable", reason=str(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ttl / STANDBY_TRIES_PER_TTL)
        return None

    async def keep(self) -> NoReturn:
        """Renew until refused or not renewed in time, then raise ``LeaseLost``."""
        assert self.grant is not None
        token = self.grant.token
        while True:
            await asyncio.sleep(self.ttl / RENEWALS_PER_TTL)
            while True:
                try:
                    grant = await self._request()
                    break
                except LeaseHeld as held:
                    self._valid_until = 0.0  # a batch in flight must not commit now
                    raise LeaseLost(self.projection, f"now held by {held.owner!r}") from held
                except Unavailable as error:
                    if not self.valid():
                        raise LeaseLost(self.projection, f"not renewed: {error}") from error
                    self.log.warning("lease_renewal_failed", reason=str(error))
                    await asyncio.sleep(min(0.2, self.ttl / 10))
            if grant.token != token:
                raise LeaseLost(self.projection, f"expired and granted again as {grant.token}")
            if not self.valid():
                raise LeaseLost(self.projection, "renewed too late")

    async def still_holds(self, token: int) -> bool:
        """Whether the cluster still grants this owner the lease under ``token``."""
        try:
            return (await self._request()).token == token
        except (LeaseHeld, Unavailable):
            return False

    async def release(self) -> None:
        """Hand the lease over now (a clean shutdown), so a standby need not wait it out. A
        checkpoint not yet reported is reported first, so the released lease that ``status``
        goes on listing names the last committed batch."""
        grant = self.grant
        if grant is None:
            return
        try:
            if self.checkpoint != grant.checkpoint and self.valid():
                with contextlib.suppress(LeaseHeld):
                    grant = await self._request()
            await self.source.release_lease(self.name, self.owner, grant.token)
            self.log.info("lease_released", token=grant.token)
        except EventLogError as error:
            self.log.warning("lease_release_failed", reason=str(error))
        finally:
            self.grant = None

    async def _request(self) -> LeaseGrant:
        sent = time.monotonic()
        grant = await self.source.acquire_lease(
            self.name, self.owner, self.ttl, checkpoint=self.checkpoint
        )
        self.grant, self._valid_until = grant, sent + SAFETY * self.ttl
        return grant


async def serve_while_leased(
    keeper: LeaseKeeper,
    stop: asyncio.Event,
    active: Callable[[int], Awaitable[None]],
    *,
    lost: tuple[type[Exception], ...] = (LeaseLost,),
) -> None:
    """Stand by until the lease is granted, run ``active(token)`` while it holds, and stand
    by again when it is ``lost``, until ``stop`` is set; the lease is released at the end,
    however it ends."""
    try:
        while not stop.is_set():
            grant = await keeper.acquire(stop)
            if grant is None:
                break
            try:
                await active(grant.token)
            except lost as error:
                keeper.log.warning("ownership_lost", reason=str(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), keeper.ttl / STANDBY_TRIES_PER_TTL)
    finally:
        await keeper.release()


async def renewing(keeper: LeaseKeeper, work: Awaitable[None]) -> None:
    """``work`` while the keeper renews the lease: whichever ends first (``work`` done or
    stopped, or the lease lost) ends the other, and what either raised is raised."""
    renew = asyncio.ensure_future(keeper.keep())
    follow = asyncio.ensure_future(work)
    try:
        await asyncio.wait({renew, follow}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        renew.cancel()
        follow.cancel()
        results = await asyncio.gather(renew, follow, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
