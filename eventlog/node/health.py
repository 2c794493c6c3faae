"""Whether a node may still take part: the one place that decides it stops.

A node stops taking part in two ways, both loud. It *fails* on an error of its own (a write
that did not land, a bug): it logs why, and its process exits non-zero for a supervisor to
restart it (etcd does the same on a failed WAL write). It raises a *corruption alarm* when its
store is not what it wrote (a checksum that does not hold, a history that differs from its
peers'): it must never again serve those bytes or send them to a follower, and the process
stays up to say so in ``status``. A restart cannot repair it either, so the alarm is recorded
beside the store, and a node with one refuses to start until an operator replaces the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from eventlog.errors import CorruptRecord, DataDirError, NodeFailed, Unavailable
from eventlog.records import Alarm
from eventlog.store.alarms import record_corruption, recorded_corruption
from eventlog.store.storage import LmdbStorage

__all__ = [
    "REPLACE_THE_STORE",
    "Health",
    "open_storage",
]

REPLACE_THE_STORE = (
    "replace this node's store from a healthy member (README: 'When a store is damaged')"
)


def open_storage(directory: Path, open_store: Callable[[], LmdbStorage]) -> LmdbStorage:
    """The node's store, unless it has a corruption alarm or is found corrupt as it opens
    (which raises the alarm): then ``DataDirError`` says so, and what to do, in one line."""
    detail = recorded_corruption(directory)
    if detail is None:
        try:
            return open_store()
        except CorruptRecord as error:
            detail = str(error)
            record_corruption(directory, detail)
    raise DataDirError(directory, f"has a corruption alarm ({detail}): {REPLACE_THE_STORE}")


@attrs.define
class Health:
    node_id: int
    directory: Path
    logger: Any
    failure: NodeFailed | None = None
    """Why the node stopped itself, once it has (``failed`` is set then)."""
    corruption: str | None = None
    """What the corruption alarm says, once raised."""
    failed: asyncio.Event = attrs.field(factory=asyncio.Event)

    @property
    def serving(self) -> bool:
        return self.failure is None and self.corruption is None

    def unavailable(self) -> Unavailable:
        if self.corruption is not None:
            return Unavailable(f"node {self.node_id} has a corruption alarm: {self.corruption}")
        return Unavailable(str(self.failure))

    def check_serving(self) -> None:
        if not self.serving:
            raise self.unavailable()

    def stop(self, cause: BaseException) -> bool:
        """Stop taking part because of ``cause``: a corruption alarm for a ``CorruptRecord``,
        else a failure. False if the node had stopped already."""
        if not self.serving:
            return False
        if isinstance(cause, CorruptRecord):
            self.corruption = str(cause)
            self.logger.error("corruption_alarm", detail=self.corruption)
            try:
                record_corruption(self.directory, self.corruption)
            except OSError as error:
                self.logger.error("corruption_alarm_not_recorded", reason=str(error))
            return True
        self.failure = NodeFailed(self.node_id, cause)
        self.logger.error("node_failed", reason=str(self.failure), exc_info=cause)
        self.failed.set()
        return True

    def alarms(self) -> tuple[Alarm, ...]:
        if self.corruption is None:
            return ()
        return (Alarm(kind="corrupt", detail=self.corruption),)
