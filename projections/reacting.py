"""A process manager's worker: standby until it holds the manager's lease, then follow the
log from the manager's tracking record, reacting to each event it handles in one atomic
append of the reaction's writes and the record ``Tracking(name, position)``.

Exactly once: the record is written with the reaction, and a position the record holds
already is refused by the log (``TrackingConflict``, nothing written), so neither a retry, a
crash, nor a former holder of the lease that wakes up late can make a reaction land twice.
The lease keeps one worker reacting at a time; the tracking record is the fence. Handlers run
in a thread of their own, against a blocking ``EventLog`` (the embedded store, or a
``Client``), while the loop renews the lease and reads ahead.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import structlog

from aggregates import ConcurrencyError, Repository, retry_on_conflict
from eventlog import (
    ANY,
    EventLog,
    RecordedEvent,
    Tracking,
    TrackingConflict,
    Unavailable,
    WrongExpectedVersion,
)
from projections.apply import PoisonPolicy, poison_of
from projections.errors import LeaseLost, PoisonEvent
from projections.feed import Batch, Feed
from projections.lease import LeaseKeeper, renewing, serve_while_leased
from projections.meter import Meter
from projections.process import ProcessManager, Unit, dead_letter, dead_letter_stream
from projections.projection import Router
from projections.source import EventSource
from projections.worker import WorkerConfig, first_or_stop

T = TypeVar("T")
P = ParamSpec("P")
CONFLICTS = (ConcurrencyError, WrongExpectedVersion)
"""What makes a handler run again, from a fresh unit: a concurrent save of an aggregate it
changed, or of a stream it appended to."""
RETRY_PAUSE = 0.2
"""Seconds between attempts to save a reaction while the log is unavailable."""


class ProcessWorker:
    def __init__(
        self,
        manager: ProcessManager,
        source: EventSource,
        log: EventLog,
        config: WorkerConfig | None = None,
    ) -> None:
        self.manager, self.source, self.store = manager, source, log
        self.config = config or WorkerConfig()
        self.router = Router.bind(manager)
        self.repository = Repository(log, registry=type(manager).registry)
        self.log = structlog.get_logger(__name__).bind(
            process_manager=manager.name, owner=self.config.owner
        )
        self.keeper = LeaseKeeper(
            source, manager.name, self.config.owner, self.config.lease_ttl, self.log
        )
        self.meter = Meter(self.log, self.config.report_every)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="process-manager")

    @property
    def checkpoint(self) -> int:
        """The last position reacted to (or passed over), as far as this worker knows."""
        return self.keeper.checkpoint

    async def run(self, stop: asyncio.Event) -> None:
        """React until ``stop`` is set; raises ``PoisonEvent`` under the stop policy."""
        self.log.info("worker_started", poison=self.config.poison.value)
        try:
            await serve_while_leased(self.keeper, stop, lambda _: self._active(stop))
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.shutdown)
        self.log.info("worker_stopped", checkpoint=self.checkpoint, events=self.meter.total)

    async def _in_thread(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def _active(self, stop: asyncio.Event) -> None:
        recorded = await self._in_thread(self.store.max_tracking, self.manager.name)
        self.keeper.checkpoint = self.meter.checkpoint = recorded or 0
        self.log.info("active", checkpoint=self.checkpoint)
        await renewing(self.keeper, self._follow(stop))

    async def _follow(self, stop: asyncio.Event) -> None:
        feed = Feed(
            self.source,
            self.checkpoint + 1,
            filter=self.router.filter,
            batch_size=self.config.batch_size,
            live_buffer=self.config.live_buffer,
            log=self.log,
        )
        try:
            while (batch := await first_or_stop(feed.next_batch(), stop)) is not None:
                await self._in_thread(self._react, batch)
                self.keeper.checkpoint = batch.last
                self.meter.record(batch)
                if self.meter.due():
                    self.meter.report(None)
        finally:
            await feed.close()

    # -- in the thread --------------------------------------------------------------------------
    def _react(self, batch: Batch) -> None:
        """React to each event of ``batch`` it handles; then move the record to the batch's
        end if the last reactions wrote nothing of their own."""
        tracked = batch.first - 1
        for event in batch.events:
            if not self.router.handles(event.type):
                continue
            try:
                react = functools.partial(self._react_once, event)
                if retry_on_conflict(react, conflicts=CONFLICTS):
                    tracked = event.position
            except Exception as error:
                if isinstance(error, LeaseLost):
                    raise
                poison = poison_of(self.manager.name, event, error)
                if self.config.poison is PoisonPolicy.STOP:
                    if event.position - 1 > tracked:
                        self._save_record(Unit(self.repository), event.position - 1)
                    raise poison from error
                self._park(poison)
                tracked = event.position
        if batch.last > tracked:
            self._save_record(Unit(self.repository), batch.last)

    def _react_once(self, event: RecordedEvent) -> bool:
        """Run the handler on a fresh unit and save what it did with the record; False if
        it did nothing (nothing is saved then)."""
        unit = Unit(self.repository)
        self.router.apply(unit, event)
        if not unit.writes:
            return False
        return self._save_record(unit, event.position)

    def _save_record(self, unit: Unit, position: int) -> bool:
        """Save ``unit`` with the record at ``position``, through a log that is unavailable
        for a while (the same request, so it lands once); True once it is there."""
        while True:
            if not self.keeper.valid():
                raise LeaseLost(self.manager.name, "the lease ran out; nothing saved")
            try:
                unit.save(Tracking(self.manager.name, position))
                return True
            except TrackingConflict as conflict:
                # Saved before, by an attempt whose answer was lost, or by a former holder.
                self.log.warning("reaction_recorded_already", position=position, by=str(conflict))
                return True
            except Unavailable as error:
                self.log.warning("log_unavailable", position=position, reason=str(error))
                time.sleep(RETRY_PAUSE)

    def _park(self, poison: PoisonEvent) -> None:
        unit = Unit(self.repository)
        letter = dead_letter(poison.position, poison.stream, poison.type_name, poison.reason)
        unit.append(dead_letter_stream(self.manager.name), [letter], ANY)
        self._save_record(unit, poison.position)
        self.log.error(
            "event_parked",
            position=poison.position,
            stream=poison.stream,
            type=poison.type_name,
            reason=poison.reason,
        )
