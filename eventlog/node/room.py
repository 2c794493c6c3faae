"""Room to write: the NOSPACE alarm of one node. Raised when its disk refuses a write or its
store passes ``--quota-bytes``; lifted on its own once a write lands again or the store is
back under its quota. A write the disk refused is tried again, the same Ready, until it lands:
nothing is half-written (LMDB aborts the transaction) and nothing is skipped. Every change is
told to the peers at once, and again in every report (every second)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import attrs

from eventlog.errors import StorageFull
from eventlog.node.health import Health
from eventlog.store.storage import LmdbStorage

__all__ = [
    "Room",
]


@attrs.define
class Room:
    node_id: int
    storage: LmdbStorage
    health: Health
    report: Callable[[], None]
    """Tells the peers this node's alarms."""
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
            self.report()
