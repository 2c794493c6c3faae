"""An application's notifications: its events in the log's order, numbered by log position.

The node filters (``EventFilter``: the category's stream prefix, the topics asked for, and
no system streams, so neither snapshots nor other applications' events travel). Positions
are global, so in a log shared by several applications an application's notification ids
are ascending but not contiguous; in a log of its own they are 1, 2, 3, ...
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from eventsourcing.persistence import ApplicationRecorder, Notification, Subscription

from eventlog import MAX_FILTER_TERMS, EventFilter, Page, RecordedEvent
from eventraft.eventsourcing.errors import persistence_errors
from eventraft.eventsourcing.naming import Naming
from eventraft.eventsourcing.stores import Log

__all__ = [
    "POLL_SECONDS",
    "SUBSCRIPTION_PAGE",
    "EventraftSubscription",
    "NotificationReader",
]

POLL_SECONDS = 0.1
"""How long a subscription that has caught up waits before it looks for what other processes
appended; appends made through this process's factories wake it at once."""
SUBSCRIPTION_PAGE = 500
"""Notifications a subscription asks for at a time (the library's own subscriptions' figure)."""


class NotificationReader:
    """Reads one category's notifications, page by page, through the node's filter."""

    def __init__(self, log: Log, naming: Naming) -> None:
        self.log, self.naming = log, naming

    def page(
        self, position: int, limit: int, topics: Sequence[str] = ()
    ) -> tuple[list[Notification], Page]:
        """Notifications from ``position`` on, up to ``limit``, and the page they came in (go
        on from its ``next_position``; at its end once it passed the log's head). Past 64
        topics the node's filter would refuse them, so the topics are picked here instead."""
        local = frozenset(topics) if len(topics) > MAX_FILTER_TERMS else None
        types = () if local is not None else tuple(topics)
        event_filter = EventFilter(streams=(self.naming.prefix,), types=types)
        with persistence_errors():
            page = self.log.store.read_page(position, limit, filter=event_filter)
        kept = page.events if local is None else [e for e in page.events if e.type in local]
        return [self._notification(event) for event in kept], page

    def select(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        """``ApplicationRecorder.select_notifications``: ids from ``start`` (or after it) up
        to ``stop``, at most ``limit``; pages that hold fewer, or none, are read on from."""
        position = 1 if start is None else start if inclusive_of_start else start + 1
        position = max(position, 1)
        found: list[Notification] = []
        while len(found) < limit and (stop is None or position <= stop):
            notifications, page = self.page(position, limit - len(found), topics)
            for notification in notifications:
                if stop is not None and notification.id > stop:
                    return found
                found.append(notification)
            if page.next_position > page.head or page.next_position <= position:
                break
            position = page.next_position
        return found

    def _notification(self, event: RecordedEvent) -> Notification:
        return Notification(
            id=event.position,
            originator_id=self.naming.originator_id(event.stream),
            originator_version=event.version,
            topic=event.type,
            state=event.data,
        )


class EventraftSubscription(Subscription[ApplicationRecorder]):
    """Notifications after ``gt``, then each new one as it is appended, until ``stop()``
    (from any thread: a waiting ``next`` returns at once). It reads in the caller's thread
    and keeps no thread or connection of its own, so a stopped subscription leaves nothing
    running behind it."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        reader: NotificationReader,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._reader = reader
        self._position = (gt or 0) + 1
        """Where the next read starts: past every position read, kept or skipped."""
        self._ready: deque[Notification] = deque()
        self._wake = threading.Event()
        reader.log.listen(self._wake)

    def stop(self) -> None:
        super().stop()
        self._reader.log.unlisten(self._wake)
        self._wake.set()

    def __next__(self) -> Notification:
        while not self._has_been_stopped:
            if self._ready:
                notification = self._ready.popleft()
                self._last_notification_id = notification.id
                return notification
            self._wake.clear()  # before reading: an append from now on wakes the wait
            notifications, page = self._reader.page(self._position, SUBSCRIPTION_PAGE, self._topics)
            self._ready.extend(notifications)
            self._position = max(self._position, page.next_position)
            if not notifications and page.next_position > page.head:
                self._wake.wait(POLL_SECONDS)
        raise StopIteration
