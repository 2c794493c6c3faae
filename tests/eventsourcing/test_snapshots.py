"""Snapshots: sparse versions in ``$snapshot-<category>-<id>``, each version in its metadata,
read newest first and filtered; never among the notifications."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import DataError, ProgrammingError, StoredEvent

import eventlog
from eventraft.eventsourcing import snapshots
from tests.eventsourcing import logs


def snapshot(originator_id: UUID, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id, version, "snapshot-topic", state)


class Counter(Aggregate):
    @event("Started")
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class Counters(Application[UUID]):
    snapshotting_intervals = {Counter: 3}  # noqa: RUF012 (the library's class attribute)


class TestSnapshots(logs.Embedded):
    def test_sparse_versions(self) -> None:
        factory = self.factory()
        recorder = factory.aggregate_recorder("snapshots")
        originator_id = uuid4()
        recorder.insert_events([snapshot(originator_id, 3), snapshot(originator_id, 0)])
        recorder.insert_events([snapshot(originator_id, 7)])

        def versions(**query: int | bool) -> list[int]:
            found = recorder.select_events(originator_id, **query)  # type: ignore[arg-type]
            assert all(s.originator_id == originator_id for s in found)
            return [s.originator_version for s in found]

        self.assertEqual(versions(), [0, 3, 7])
        self.assertEqual(versions(desc=True, limit=1), [7])
        self.assertEqual(versions(lte=5, desc=True, limit=1), [3])
        self.assertEqual(versions(gt=0), [3, 7])
        self.assertEqual(versions(gt=3, lte=7), [7])
        self.assertEqual(versions(limit=2), [0, 3])
        self.assertEqual(versions(desc=True), [7, 3, 0])
        self.assertEqual(versions(limit=0), [])

        recorder.insert_events([snapshot(originator_id, 7, b'{"again": 1}')])
        [latest] = recorder.select_events(originator_id, desc=True, limit=1)
        self.assertEqual(latest.state, b'{"again": 1}')  # the later of one version wins

        stream = f"$snapshot-RecorderTest-{originator_id}"
        written = factory.log.store.read_stream(stream)
        self.assertEqual(
            [json.loads(e.metadata)["originator_version"] for e in written], [3, 0, 7, 7]
        )
        notifications = factory.application_recorder().select_notifications(None, 10)
        self.assertEqual(notifications, [])  # system streams: never notifications

    def test_more_than_a_page(self) -> None:
        recorder = self.factory().aggregate_recorder("snapshots")
        originator_id = uuid4()
        count = snapshots.PAGE * 2 + 5
        recorder.insert_events([snapshot(originator_id, v) for v in range(1, count + 1)])
        self.assertEqual(len(recorder.select_events(originator_id)), count)
        [last] = recorder.select_events(originator_id, desc=True, limit=1)
        self.assertEqual(last.originator_version, count)
        found = recorder.select_events(originator_id, gt=2, lte=4)
        self.assertEqual([s.originator_version for s in found], [3, 4])

    def test_str_ids_read_back_as_given(self) -> None:
        recorder = self.factory().aggregate_recorder("snapshots")
        recorder.insert_events([snapshot("dog-1", 2)])  # type: ignore[arg-type]
        [found] = recorder.select_events("dog-1")
        self.assertEqual(found.originator_id, "dog-1")

    def test_a_record_that_carries_no_version(self) -> None:
        factory = self.factory()
        originator_id = uuid4()
        stream = f"$snapshot-RecorderTest-{originator_id}"
        factory.log.store.append_multi([(stream, [eventlog.NewEvent("x", b"{}")], 0)])
        with self.assertRaises(DataError) as raised:
            factory.aggregate_recorder("snapshots").select_events(originator_id)
        self.assertIn(stream, str(raised.exception))

    def test_other_purposes(self) -> None:
        factory = self.factory()
        drafts = factory.aggregate_recorder("drafts")
        assert isinstance(drafts, snapshots.EventraftSnapshotRecorder)
        self.assertEqual(drafts.prefix, "$drafts-RecorderTest-")
        with self.assertRaises(ProgrammingError):
            factory.aggregate_recorder("not-a-name")

    def test_an_application_snapshots_and_loads_from_them(self) -> None:
        app = Counters(env={"PERSISTENCE_MODULE": logs.MODULE, **self.log_env})
        self.addCleanup(app.close)
        counter = Counter()
        app.save(counter)
        for _ in range(4):
            counter.increment()
            app.save(counter)  # the save of version 3 takes a snapshot
        assert app.snapshots is not None
        self.assertEqual([s.originator_version for s in app.snapshots.get(counter.id)], [3])
        self.assertEqual(app.repository.get(counter.id).count, 4)
        self.assertEqual(app.repository.get(counter.id, version=3).count, 2)
        self.assertEqual(len(app.recorder.select_notifications(None, 10)), 5)
