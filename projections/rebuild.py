"""Rebuild: replay the whole log from position 1 into a fresh generation of the target while
the current one keeps serving, then switch the target's link to it in one rename.

The worker that owns the projection, if any, goes on writing the old generation meanwhile;
before its next batch it sees the link moved, reopens the target and continues from the new
generation's checkpoint, so no event is lost or applied twice across the switch. The new
generation is stamped with the projection's current fencing token before the switch, so a
former owner that wakes up later cannot write to it either.

If the rebuild fails (a poison event under the stop policy, a full disk, ^C) the new
generation is deleted and the target is left as it was.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Generic, ParamSpec, Protocol, TypeVar

import attrs
import structlog

from projections import generation
from projections.apply import PoisonPolicy, apply_batch, claim
from projections.errors import TargetError
from projections.feed import Feed
from projections.lease import lease_name
from projections.meter import Meter
from projections.projection import Projection, Router
from projections.source import EventSource
from projections.target import Target

H = TypeVar("H")
T = TypeVar("T")
P = ParamSpec("P")


class Progress(Protocol):
    """Told how far a rebuild is (a progress bar, say)."""

    def update(self, position: int, total: int) -> None: ...


@attrs.frozen(kw_only=True)
class RebuildResult:
    generation: Path
    """The concrete file or directory the target now links to."""
    checkpoint: int
    events: int
    parked: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@attrs.define
class _Rebuild(Generic[H]):
    projection: Projection[H]
    source: EventSource
    batch_size: int
    poison: PoisonPolicy
    progress: Progress | None
    log: structlog.typing.FilteringBoundLogger
    thread: ThreadPoolExecutor = attrs.field(
        factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-target")
    )
    parked: int = 0

    async def in_thread(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.thread, call)

    async def replay(self, target: Target[H]) -> int:
        """Apply everything from position 1 to the end of the log; return the checkpoint."""
        router, meter = Router.bind(self.projection), Meter(self.log, every=10.0)
        total = await self.source.head()
        feed = Feed(
            self.source,
            1,
            filter=router.filter,
            batch_size=self.batch_size,
            follow=False,
            log=self.log,
        )
        try:
            while batch := await feed.next_batch():
                result = await self.in_thread(
                    apply_batch, target, router, batch, token=0, policy=self.poison
                )
                self.parked += len(result.parked)
                meter.record(batch)
                total = max(total, meter.checkpoint)
                if self.progress is not None:
                    self.progress.update(meter.checkpoint, total)
                if meter.due():
                    meter.report(total)
        finally:
            await feed.close()
        return meter.checkpoint

    async def build(self, fresh: Path) -> int:
        """Fill the fresh generation and stamp it with the current token; the checkpoint."""
        target = await self.in_thread(self.projection.open_target, fresh)
        try:
            await self.in_thread(claim, target, self.projection, 0)
            checkpoint = await self.replay(target)
            await self.in_thread(claim, target, self.projection, await self.fencing_token())
        finally:
            await self.in_thread(target.close)
        return checkpoint

    async def fencing_token(self) -> int:
        """The projection's current token: its active worker may write the new generation,
        anyone older may not."""
        name = lease_name(self.projection.name)
        return max((g.token for g in await self.source.leases() if g.name == name), default=0)


async def rebuild(
    projection: Projection[H],
    source: EventSource,
    path: Path | str,
    *,
    batch_size: int = 5000,
    poison: PoisonPolicy = PoisonPolicy.STOP,
    progress: Progress | None = None,
) -> RebuildResult:
    """Build ``projection`` from position 1 into a new generation of ``path`` and switch."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise TargetError(path, "is a plain directory, which cannot be switched atomically")
    log = structlog.get_logger(__name__).bind(projection=projection.name, rebuild=True)
    job = _Rebuild(projection, source, batch_size, poison, progress, log)
    started = time.monotonic()
    fresh = generation.reserve(path, directory=projection.target_is_directory)
    log.info("rebuild_started", generation=str(fresh))
    try:
        checkpoint = await job.build(fresh)
        previous = generation.switch(path, fresh)
    except BaseException:
        generation.remove(fresh)
        raise
    finally:
        job.thread.shutdown(wait=True)
    if previous is not None and previous != fresh:
        generation.remove(previous)
    result = RebuildResult(
        generation=fresh,
        checkpoint=checkpoint,
        events=checkpoint,
        parked=job.parked,
        seconds=time.monotonic() - started,
    )
    log.info("rebuild_switched", generation=str(fresh), events_per_s=round(result.rate, 1))
    return result
