"""Room to write: the NOSPACE alarm of one node. Raised when its disk refuses a write or its
store passes ``--quota-bytes``; lifted on its own once a write lands again or the store is
back under its quota. A write the disk refused is tried again, the same Ready, until it lands:
nothing is half-written (LMDB aborts the transaction) and nothing is skipped. Every change is
told to the peers at once, and while the alarm stands, again every second."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import attrs

from eventlog.errors import StorageFull
from eventlog.node.health import Health
from eventlog.records import Alarm
from eventlog.store.storage import LmdbStorage

__all__ = [
    "ALARM_REPORT_MS",
    "Room",
]

ALARM_REPORT_MS = 1000
"""How often a node with an alarm tells its peers again (a report lost, a new leader)."""


@attrs.define
class Room:
    node_id: int
    storage: LmdbStorage
    health: Health
    report: Callable[[Sequence[Alarm]], None]
    quota_bytes: int | None
    retry_seconds: float
    disk_full: str | None = None

    async def write(self, in_writer: Callable[[], Awaitable[None]]) -> None:
        """Run ``in_writer`` until it lands, waiting ``retry_seconds`` after each refusal for
        lack of room; any other failure is raised."""
        while True:
            try:
                await in_writer()
            except StorageFull as full:
                self.disk_full = f"node {self.node_id} cannot write: {full}"
                self.check()
                await asyncio.sleep(self.retry_seconds)
                continue
            self.disk_full = None
            return

    def check(self) -> None:
        """Raise, or lift, the alarm as the disk and the quota say now."""
        detail, quota = self.disk_full, self.quota_bytes
        if detail is None and quota is not None and (used := self.storage.used_bytes()) >= quota:
            detail = f"node {self.node_id} holds {used:,} bytes, its quota is {quota:,}"
        if self.health.out_of_space(detail):
            self.report(self.health.own_alarms())

    def every_tick(self, ticks: int, tick_ms: float) -> None:
        if ticks % max(1, round(ALARM_REPORT_MS / tick_ms)) == 0 and self.health.own_alarms():
            self.report(self.health.own_alarms())
