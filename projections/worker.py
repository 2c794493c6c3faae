"""A projection worker: standby until it holds the projection's lease, then catch up from the
target's checkpoint and follow the committed log, one transaction per batch, until stopped.

Effectively once: events are delivered at least once (a restart, a reconnect or a takeover
reads again from the checkpoint), and each batch commits with its checkpoint, so an event's
effect lands exactly once. The target is written from one thread of its own; the event loop
meanwhile renews the lease and reads the next batch.

When ``stop`` is set (SIGTERM, SIGINT) the batch being applied is committed, the lease is
released so a standby takes over at once, and ``run`` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Generic, NoReturn, ParamSpec, TypeVar

import attrs
import structlog

from projections import generation
from projections.apply import BatchResult, PoisonPolicy, apply_batch, claim
from projections.errors import CheckpointMoved, Fenced, LeaseLost, PoisonEvent, TargetError
from projections.feed import Batch, Feed
from projections.lease import LeaseKeeper, renewing, serve_while_leased
from projections.meter import Meter
from projections.projection import Projection, Router
from projections.source import EventSource
from projections.target import Checkpoint, Target

H = TypeVar("H")
T = TypeVar("T")
P = ParamSpec("P")


def default_owner() -> str:
    """Unique per worker run: host, process, and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@attrs.frozen(kw_only=True)
class WorkerConfig:
    batch_size: int = attrs.field(default=2000, validator=attrs.validators.ge(1))
    """Events per read and per transaction."""
    live_buffer: int = attrs.field(default=10_000, validator=attrs.validators.ge(1))
    """Live events buffered ahead of the target before the worker falls back to reading."""
    poison: PoisonPolicy = PoisonPolicy.STOP
    lease_ttl: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    """A standby takes over within about this long after the active worker dies."""
    owner: str = attrs.field(factory=default_owner)
    report_every: float = 10.0
    """Seconds between progress lines in the log."""


@attrs.define
class _Session(Generic[H]):
    """The target as opened by the current holder of the lease."""

    target: Target[H]
    generation: Path
    checkpoint: Checkpoint


class Worker(Generic[H]):
    def __init__(
        self,
        projection: Projection[H],
        source: EventSource,
        target: Path | str,
        config: WorkerConfig | None = None,
    ) -> None:
        self.projection, self.source, self.path = projection, source, Path(target)
        self.config = config or WorkerConfig()
        self.router = Router.bind(projection)
        self.log = structlog.get_logger(__name__).bind(
            projection=projection.name, owner=self.config.owner
        )
        self.keeper = LeaseKeeper(
            source, projection.name, self.config.owner, self.config.lease_ttl, self.log
        )
        self.meter = Meter(self.log, self.config.report_every)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-target")
        self._session: _Session[H] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set. Raises ``PoisonEvent`` under the stop policy, and
        whatever the target raises when it fails."""
        self.log.info("worker_started", target=str(self.path), poison=self.config.poison.value)
        try:
            await serve_while_leased(
                self.keeper,
                stop,
                functools.partial(self._active, stop=stop),
                lost=(LeaseLost, Fenced),
            )
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.shutdown)
        self.log.info("worker_stopped", checkpoint=self.meter.checkpoint, events=self.meter.total)

    async def _in_thread(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    # -- holding the lease ----------------------------------------------------------------------
    async def _active(self, token: int, stop: asyncio.Event) -> None:
        """Write while the lease holds; return when stopped, raise when it is lost."""
        try:
            self._session = await self._in_thread(self._open, token)
        except Fenced as fenced:
            await self._check_fence(fenced, token)
        self._started(self._session.checkpoint)
        self.log.info(
            "active",
            token=token,
            checkpoint=self._session.checkpoint.position,
            target=str(self._session.generation),
        )
        try:
            await renewing(self.keeper, self._follow(token, stop))
        finally:
            await self._close_session()

    async def _check_fence(self, fenced: Fenced, token: int) -> NoReturn:
        """The target holds a higher token than the one just granted: either this worker's
        lease ran out meanwhile (it stands by again), or the target was written under
        another cluster's leases, which no worker here can ever outbid."""
        if await self.keeper.still_holds(token):
            raise TargetError(
                self.path,
                f"it was written with fencing token {fenced.stored_token}, higher than the "
                f"current lease's {token}: it belongs to another cluster; rebuild it",
            ) from fenced
        raise fenced

    def _started(self, checkpoint: Checkpoint) -> None:
        self.keeper.checkpoint = self.meter.checkpoint = checkpoint.position

    def _open(self, token: int) -> _Session[H]:
        """Open the target's current generation (creating the first) and claim it."""
        current = generation.current(self.path)
        if current is None:
            current = generation.reserve(self.path, directory=self.projection.target_is_directory)
            generation.switch(self.path, current)
        target = self.projection.open_target(current)
        try:
            checkpoint = claim(target, self.projection, token)
        except BaseException:
            target.close()
            raise
        return _Session(target, current, checkpoint)

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            # Queued behind any batch still running in the thread, which ends first.
            await self._in_thread(session.target.close)

    # -- following ------------------------------------------------------------------------------
    async def _follow(self, token: int, stop: asyncio.Event) -> None:
        feed = self._feed()
        try:
            while (batch := await first_or_stop(feed.next_batch(), stop)) is not None:
                if await self._target_moved(token):
                    await feed.close()
                    feed = self._feed()
                    continue
                try:
                    result = await self._apply(batch, token)
                except CheckpointMoved as moved:
                    self.log.warning("checkpoint_moved", reason=str(moved))
                    await feed.close()
                    self._started(await self._in_thread(self._current_target().checkpoint))
                    feed = self._feed()
                    continue
                except PoisonEvent:
                    # What came before it committed: the released lease reports that.
                    self._started(await self._in_thread(self._current_target().checkpoint))
                    raise
                await self._committed(batch, result)
        finally:
            await feed.close()

    def _feed(self) -> Feed:
        return Feed(
            self.source,
            self.keeper.checkpoint + 1,
            filter=self.router.filter,
            batch_size=self.config.batch_size,
            live_buffer=self.config.live_buffer,
            log=self.log,
        )

    def _current_target(self) -> Target[H]:
        assert self._session is not None
        return self._session.target

    async def _target_moved(self, token: int) -> bool:
        """A rebuild switched the target to a new generation: reopen and claim it."""
        assert self._session is not None
        if generation.current(self.path) == self._session.generation:
            return False
        await self._close_session()
        self._session = await self._in_thread(self._open, token)
        self._started(self._session.checkpoint)
        self.log.info(
            "target_switched",
            target=str(self._session.generation),
            checkpoint=self._session.checkpoint.position,
        )
        return True

    async def _apply(self, batch: Batch, token: int) -> BatchResult:
        return await self._in_thread(
            apply_batch,
            self._current_target(),
            self.router,
            batch,
            token=token,
            policy=self.config.poison,
            still_owner=self.keeper.valid,
        )

    async def _committed(self, batch: Batch, result: BatchResult) -> None:
        self.keeper.checkpoint = result.checkpoint.position
        self.meter.record(batch)
        for poison in result.parked:
            self.log.error(
                "event_parked",
                position=poison.position,
                stream=poison.stream,
                type=poison.type_name,
                reason=poison.reason,
            )
        if self.meter.due():
            self.meter.report(await self._head())

    async def _head(self) -> int | None:
        try:
            return await asyncio.wait_for(self.source.head(), 2.0)
        except Exception:
            return None


async def first_or_stop(awaitable: Awaitable[T], stop: asyncio.Event) -> T | None:
    """What ``awaitable`` gives, or None as soon as ``stop`` is set (``awaitable`` is then
    cancelled, as it is if this call is)."""
    task = asyncio.ensure_future(awaitable)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if stop.is_set() or task.cancelled():
        if not task.cancelled():
            task.exception()  # retrieved: a failure while stopping is of no interest
        return None
    return task.result()
