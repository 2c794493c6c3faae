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
    "PEER_ALARM_SECONDS",
    "REPLACE_THE_STORE",
    "Health",
    "open_storage",
]

PEER_ALARM_SECONDS = 3.0
"""A peer's alarm counts this long after its last report (it reports every second)."""
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
    nospace: str | None = None
    """Why this node has no room to write (its disk is full, its quota reached), if so."""
    peers: dict[int, tuple[tuple[Alarm, ...], float]] = attrs.field(factory=dict)
    """The alarms each peer last reported, with when (``time.monotonic``) the report came."""

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

    def own_alarms(self) -> tuple[Alarm, ...]:
        """What this node reports to its peers."""
        alarms = []
        if self.corruption is not None:
            alarms.append(Alarm(kind="corrupt", detail=self.corruption))
        if self.nospace is not None:
            alarms.append(Alarm(kind="nospace", detail=self.nospace))
        return tuple(alarms)

    def alarms(self, now: float) -> tuple[Alarm, ...]:
        """This node's alarms, then those its peers reported lately, each naming the peer."""
        heard = [
            Alarm(kind=alarm.kind, detail=f"node {peer}: {alarm.detail}")
            for peer, (alarms, at) in sorted(self.peers.items())
            if now - at <= PEER_ALARM_SECONDS
            for alarm in alarms
        ]
        return (*self.own_alarms(), *heard)

    def no_space(self, now: float) -> str | None:
        """Why appends are refused: a NOSPACE alarm here or on a member (etcd's rule: one
        member out of room stops the cluster's writes, so none runs on fewer copies)."""
        for alarm in self.alarms(now):
            if alarm.kind == "nospace":
                return f"NOSPACE alarm: {alarm.detail}"
        return None

    def heard(self, peer: int, alarms: tuple[Alarm, ...], now: float) -> None:
        if alarms:
            self.peers[peer] = (alarms, now)
        else:
            self.peers.pop(peer, None)

    def out_of_space(self, detail: str | None) -> bool:
        """Set (or, with None, lift) this node's NOSPACE alarm; True if that changed it."""
        if detail == self.nospace:
            return False
        if detail is None:
            self.logger.info("nospace_alarm_lifted", was=self.nospace)
        else:
            self.logger.error("nospace_alarm", detail=detail)
        self.nospace = detail
        return True
