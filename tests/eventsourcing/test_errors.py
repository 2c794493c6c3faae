"""The log's errors as the library's: conflicts are ``IntegrityError``, what cannot be
written ``DataError``, an unreachable cluster ``OperationalError`` (within the client's
timeout), each with the log's own error as its cause."""

from __future__ import annotations

import time
from typing import ClassVar
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Tracking,
)

import eventlog
from eventraft.eventsourcing.errors import ERRORS, translated
from tests.cluster.harness import free_ports
from tests.eventsourcing import logs


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (eventlog.WrongExpectedVersion("s", 1, 2), IntegrityError),
        (eventlog.TrackingConflict("t", 1, 2), IntegrityError),
        (eventlog.EventTooLarge(10, 5), DataError),
        (eventlog.InvalidRequest("bad"), DataError),
        (eventlog.PermissionDenied("u", "write", "s"), ProgrammingError),
        (eventlog.Unavailable("no leader"), OperationalError),
        (eventlog.Overloaded("busy"), OperationalError),
        (eventlog.StorageFull("full"), OperationalError),
        (eventlog.InvariantViolation("the embedded store is closed"), InterfaceError),
        (eventlog.LeaseHeld("l", "o", 1), DatabaseError),
    ],
)
def test_the_table(error: eventlog.EventLogError, expected: type[Exception]) -> None:
    assert type(translated(error)) is expected
    assert str(error) in str(translated(error))


def test_every_error_of_the_log_is_listed_or_meant_to_fall_back() -> None:
    unlisted = {
        name
        for name in eventlog.__all__
        if isinstance(kind := getattr(eventlog, name), type)
        and issubclass(kind, eventlog.EventLogError)
        and not any(base in ERRORS for base in kind.__mro__)
    }
    # Never raised by a recorder's calls: lease, membership and access changes, a root.
    assert unlisted == {
        "EventLogError",
        "LeaseHeld",
        "MembershipError",
        "AccessChangeRefused",
    }


class TestOnEmbedded(logs.Embedded):
    def test_a_version_conflict(self) -> None:
        recorder = self.factory().application_recorder()
        event = StoredEvent(uuid4(), 1, "topic", b"{}")
        recorder.insert_events([event])
        with self.assertRaises(IntegrityError) as raised:
            recorder.insert_events([event])
        self.assertIsInstance(raised.exception.__cause__, eventlog.WrongExpectedVersion)

    def test_a_stale_aggregate_saved(self) -> None:
        app = Application[object](env={"PERSISTENCE_MODULE": logs.MODULE, **self.log_env})
        self.addCleanup(app.close)
        aggregate = Aggregate()
        app.save(aggregate)
        first, second = app.repository.get(aggregate.id), app.repository.get(aggregate.id)
        first.trigger_event(Aggregate.Event)
        second.trigger_event(Aggregate.Event)
        app.save(first)
        with self.assertRaises(IntegrityError):
            app.save(second)

    def test_a_tracking_id_recorded_twice(self) -> None:
        recorder = self.factory().process_recorder()
        recorder.insert_events(
            [StoredEvent(uuid4(), 1, "topic", b"{}")], tracking=Tracking("Up", 5)
        )
        with self.assertRaises(IntegrityError) as raised:
            recorder.insert_events(
                [StoredEvent(uuid4(), 1, "t", b"{}")], tracking=Tracking("Up", 5)
            )
        self.assertIsInstance(raised.exception.__cause__, eventlog.TrackingConflict)
        self.assertEqual(recorder.max_notification_id(), 1)  # the second wrote nothing

    def test_versions_eventraft_cannot_write(self) -> None:
        recorder = self.factory().application_recorder()
        originator_id = uuid4()
        for versions, why in (
            ((0, 1), "originator version 0 cannot be written"),
            ((1, 3), "version 3 cannot follow version 1"),
            ((2, 1), "version 1 cannot follow version 2"),
        ):
            events = [StoredEvent(originator_id, v, "topic", b"{}") for v in versions]
            with self.assertRaises(DataError) as raised:
                recorder.insert_events(events)
            self.assertIn(why, str(raised.exception))
            self.assertIn(f"RecorderTest-{originator_id}", str(raised.exception))
        twice = [StoredEvent(originator_id, 1, "topic", b"{}")] * 2
        with self.assertRaises(IntegrityError):
            recorder.insert_events(twice)
        self.assertIsNone(recorder.max_notification_id())  # nothing of any was written

    def test_what_the_log_refuses_to_hold(self) -> None:
        recorder = self.factory().application_recorder()
        with self.assertRaises(DataError):
            recorder.insert_events([StoredEvent("x" * 2000, 1, "topic", b"{}")])
        with self.assertRaises(DataError):
            recorder.insert_events([StoredEvent(uuid4(), 1, "t" * 300, b"{}")])

    def test_a_closed_factory(self) -> None:
        factory = self.factory()
        recorder = factory.application_recorder()
        factory.close()
        with self.assertRaises(InterfaceError):
            recorder.select_notifications(None, 10)


class TestUnreachable:
    TIMEOUT: ClassVar[float] = 0.5

    def test_an_unreachable_cluster_is_an_operational_error_within_the_timeout(self) -> None:
        [port] = free_ports(1)  # nothing listens there
        app = Application[object](
            env={
                "PERSISTENCE_MODULE": logs.MODULE,
                "EVENTRAFT_CLUSTER": f"127.0.0.1:{port}",
                "EVENTRAFT_INSECURE": "y",
                "EVENTRAFT_TIMEOUT": str(self.TIMEOUT),
            }
        )
        try:
            started = time.monotonic()
            with pytest.raises(OperationalError) as raised:
                app.save(Aggregate())
            assert time.monotonic() - started < self.TIMEOUT + 2
            assert isinstance(raised.value.__cause__, eventlog.Unavailable)
            with pytest.raises(OperationalError):
                app.recorder.max_notification_id()
        finally:
            app.close()
