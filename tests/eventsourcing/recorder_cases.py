"""The library's own recorder test cases, bound to eventraft's recorders (the modules
``test_recorders_*`` put each on a log). Overridden are only the tests eventraft cannot pass as
written, each saying which assertion and why.

Why any are: eventraft's stream versions are dense and start at 1, and an aggregate's version
is its stream's version (so that a version conflict is eventraft's own check, with nothing read
before a write). A stored event of originator version 0 cannot be written; some of the
library's tests number an aggregate's events from 0 (its own aggregates start at 1).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DataError,
    ProcessRecorder,
    StoredEvent,
    TrackingRecorder,
)
from eventsourcing.tests import persistence as library

from tests.eventsourcing.logs import FreshLog, VersionsFromOne

ZERO_REFUSED = "originator version 0 cannot be written"


class RefusesVersionZero(FreshLog):
    def assert_version_zero_refused(self, recorder: Any) -> None:
        """The refusal the overrides below work around: at once, naming stream and version."""
        event = StoredEvent(uuid4(), 0, "topic", b"state")
        with self.assertRaises(DataError) as raised:
            recorder.insert_events([event])
        self.assertIn(ZERO_REFUSED, str(raised.exception))
        self.assertIn(str(event.originator_id), str(raised.exception))
        self.assertEqual(recorder.select_events(event.originator_id), [])


class AggregateRecorderCases(RefusesVersionZero, library.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.factory().aggregate_recorder()

    def test_insert_and_select(self) -> None:
        """Overridden: the library's last step writes ``StoredEvent(originator_version=0)``
        to a new aggregate and asserts it reads back. Every assertion before it runs here as
        written; that last insert is refused with ``DataError`` (nothing written)."""
        with self.assertRaises(DataError) as raised:
            super().test_insert_and_select()
        self.assertIn(ZERO_REFUSED, str(raised.exception))


class ApplicationRecorderCases(RefusesVersionZero, library.ApplicationRecorderTestCase):
    EXPECT_CONTIGUOUS_NOTIFICATION_IDS = True

    def create_recorder(self) -> ApplicationRecorder:
        return self.factory().application_recorder()

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        """Overridden: the library's writers number each new aggregate's events
        ``range(100)``, from 0, which eventraft refuses (checked first). The same writers
        and readers then run unchanged with every version one higher (``VersionsFromOne``)."""
        self.assert_version_zero_refused(self.create_recorder())
        real = self.create_recorder
        self.create_recorder = lambda: VersionsFromOne(real())  # type: ignore[method-assign]
        super().test_concurrent_no_conflicts(initial_position)

    def test_concurrent_throughput(self) -> None:
        """Overridden as ``test_concurrent_no_conflicts``: its events count from 0."""
        self.assert_version_zero_refused(self.create_recorder())
        real = self.create_recorder
        self.create_recorder = lambda: VersionsFromOne(real())  # type: ignore[method-assign]
        super().test_concurrent_throughput()


class TrackingRecorderCases(FreshLog, library.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.factory().tracking_recorder()


class ProcessRecorderCases(RefusesVersionZero, library.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return self.factory().process_recorder()

    def test_performance(self) -> None:
        """Overridden: the library's events here are each a new aggregate's version 0,
        which eventraft refuses (checked first); it then runs with versions one higher."""
        self.assert_version_zero_refused(self.create_recorder())
        real = self.create_recorder
        self.create_recorder = lambda: VersionsFromOne(real())  # type: ignore[method-assign]
        super().test_performance()


class NonInterleavingCases(FreshLog, library.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory().application_recorder()

    def create_stack(self, originator_id: Any) -> list[StoredEvent]:
        """Overridden (a hook of the library's): its stack numbers versions from 0; here
        from 1, the race and its assertions unchanged."""
        return [
            StoredEvent(originator_id, version, "non-interleaving-test-event", b"{}")
            for version in range(1, self.insert_num + 1)
        ]


class WithTextOriginatorIDs:
    """As the library's own ``WithTextOriginatorID``: str ids, which read back as str."""

    def new_originator_id(self) -> str:
        return "test-" + str(uuid4())
