"""The library's recorders on the log: aggregate, application, tracking and process.

Each ``insert_events`` is one atomic ``append_multi`` (``batches``); the process recorder's
carries its tracking record in the same append, so an event processed is recorded with its
results or not at all. Reads go to the node: a stream for ``select_events``, the filtered
log for notifications (``notifications``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)

import eventlog
from eventraft.eventsourcing.batches import Plan, dense_plan
from eventraft.eventsourcing.errors import persistence_errors
from eventraft.eventsourcing.naming import Naming
from eventraft.eventsourcing.notifications import EventraftSubscription, NotificationReader
from eventraft.eventsourcing.stores import Log

__all__ = [
    "EventraftAggregateRecorder",
    "EventraftApplicationRecorder",
    "EventraftProcessRecorder",
    "EventraftRecorder",
    "EventraftTrackingRecorder",
]


class EventraftRecorder:
    """What every recorder holds: the factory's log and its category's names."""

    def __init__(self, log: Log, naming: Naming) -> None:
        self.log = log
        self.naming = naming

    def _append(self, plan: Plan, tracking: Tracking | None = None) -> list[int]:
        """Write ``plan`` (and ``tracking``) in one append: the positions of its events."""
        if not plan.appends and tracking is None:
            return []
        record = None
        if tracking is not None:
            name = self.naming.tracking(tracking.application_name)
            record = eventlog.Tracking(name, tracking.notification_id)
        with persistence_errors():
            result = self.log.store.append_multi(plan.appends, tracking=record)
        if plan.appends:
            self.log.appended()
        return plan.positions(result)


class EventraftAggregateRecorder(EventraftRecorder, AggregateRecorder):
    """Aggregate events: stream ``<category>-<id>``, stream version == originator version."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self._append(dense_plan(stored_events, self.naming.stream))
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        stream = self.naming.stream(originator_id)
        first = 1 if gt is None else max(gt + 1, 1)
        if (limit is not None and limit <= 0) or (lte is not None and lte < first):
            return []
        span = None if lte is None else lte - first + 1
        store = self.log.store
        with persistence_errors():
            if desc and limit is not None:  # versions are dense: the top ``limit`` below lte
                events = store.read_stream_backwards(stream, lte, limit)
                events = [event for event in events if event.version >= first]
            elif desc:
                events = store.read_stream(stream, first, span)[::-1]
            else:
                events = store.read_stream(stream, first, _least(limit, span))
        returned_id = self.naming.originator_id(stream)
        return [
            StoredEvent(
                originator_id=returned_id,
                originator_version=event.version,
                topic=event.type,
                state=event.data,
            )
            for event in events
        ]


def _least(a: int | None, b: int | None) -> int | None:
    """The smaller of two limits, None being no limit."""
    return b if a is None else a if b is None else min(a, b)


class EventraftApplicationRecorder(EventraftAggregateRecorder, ApplicationRecorder):
    """Aggregate events, numbered by their positions in the log."""

    def __init__(self, log: Log, naming: Naming) -> None:
        super().__init__(log, naming)
        self.reader = NotificationReader(log, naming)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self._append(dense_plan(stored_events, self.naming.stream))

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        return self.reader.select(start, limit, stop, topics, inclusive_of_start=inclusive_of_start)

    def max_notification_id(self) -> int | None:
        """The log's head, or None before its first event. In a log of its own that is the
        application's last notification; in a shared log it may be a later position, which
        holds no notification of this application (what callers do with it, reading on or
        waiting for it, stays right: no notification lies between the two)."""
        with persistence_errors():
            return self.log.store.head() or None

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return EventraftSubscription(self, self.reader, gt=gt, topics=topics)


class EventraftTrackingRecorder(EventraftRecorder, TrackingRecorder):
    """Tracking records ``<category>:<upstream application>`` in the log; ``wait`` is the
    library's (it polls ``has_tracking_id``)."""

    def insert_tracking(self, tracking: Tracking) -> None:
        self._append(Plan([], []), tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        with persistence_errors():
            return self.log.store.max_tracking(self.naming.tracking(application_name))

    def has_tracking_id(self, application_name: str, notification_id: int | None) -> bool:
        if notification_id is None:
            return True
        name = self.naming.tracking(application_name)
        with persistence_errors():
            return self.log.store.has_tracking(name, notification_id)


class EventraftProcessRecorder(
    EventraftTrackingRecorder, EventraftApplicationRecorder, ProcessRecorder
):
    """Events and the tracking record of the notification they were made from, in one
    append (an empty ``stored_events``: the tracking record alone)."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        return self._append(dense_plan(stored_events, self.naming.stream), tracking)
