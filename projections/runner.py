"""Running a worker or a rebuild as the whole of a process: one event loop, with SIGTERM and
SIGINT turned into a clean stop (a worker commits its batch and hands its lease over; a
rebuild deletes its unfinished generation and leaves the target as it was)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import structlog

from projections.apply import PoisonPolicy
from projections.errors import Interrupted
from projections.process import ProcessManager
from projections.projection import Projection
from projections.reacting import ProcessWorker
from projections.rebuild import Progress, RebuildResult, rebuild
from projections.source import EventSource
from projections.worker import Worker, WorkerConfig

H = TypeVar("H")
SIGNALS = (signal.SIGTERM, signal.SIGINT)
_log = structlog.get_logger(__name__)


@contextlib.contextmanager
def _on_signals(react: Callable[[signal.Signals], None]) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, react, sig)
    try:
        yield
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


def _serve(
    name: str,
    open_source: Callable[[], EventSource],
    work: Callable[[EventSource, asyncio.Event], Awaitable[None]],
) -> None:
    """Open the source, ``work`` until SIGTERM or SIGINT sets the stop event, close it."""

    async def main() -> None:
        stop = asyncio.Event()

        def request_stop(sig: signal.Signals) -> None:
            _log.info("stopping", signal=sig.name, worker=name)
            stop.set()

        with _on_signals(request_stop):
            source = open_source()
            try:
                await work(source, stop)
            finally:
                await source.close()

    asyncio.run(main())


def run_worker(
    projection: Projection[H],
    open_source: Callable[[], EventSource],
    target: Path,
    config: WorkerConfig,
) -> None:
    """Run one worker until SIGTERM or SIGINT (then return normally)."""

    async def work(source: EventSource, stop: asyncio.Event) -> None:
        await Worker(projection, source, target, config).run(stop)

    _serve(projection.name, open_source, work)


def run_process_manager(
    manager: ProcessManager,
    open_source: Callable[[], EventSource],
    config: WorkerConfig,
) -> None:
    """Run one process manager's worker until SIGTERM or SIGINT (then return normally)."""

    async def work(source: EventSource, stop: asyncio.Event) -> None:
        await ProcessWorker(manager, source, source.blocking_log(), config).run(stop)

    _serve(manager.name, open_source, work)


def run_rebuild(
    projection: Projection[H],
    open_source: Callable[[], EventSource],
    target: Path,
    *,
    batch_size: int,
    poison: PoisonPolicy,
    progress: Progress | None,
) -> RebuildResult:
    """Rebuild and switch; ``Interrupted`` if a signal came first (nothing switched)."""

    async def main() -> RebuildResult:
        task = asyncio.current_task()
        assert task is not None
        interrupted: list[signal.Signals] = []

        def cancel(sig: signal.Signals) -> None:
            interrupted.append(sig)
            task.cancel()

        with _on_signals(cancel):
            source = open_source()
            try:
                return await rebuild(
                    projection,
                    source,
                    target,
                    batch_size=batch_size,
                    poison=poison,
                    progress=progress,
                )
            except asyncio.CancelledError:
                if interrupted:
                    raise Interrupted(f"stopped by {interrupted[0].name}") from None
                raise
            finally:
                await source.close()

    return asyncio.run(main())
