"""The library's infrastructure factory test case, and how the library finds our factory."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from unittest import TestCase

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests import persistence as library
from eventsourcing.utils import Environment

from eventraft.eventsourcing import Factory, factory, recorders, snapshots, stores
from tests.eventsourcing import logs


class TrackingRecorderSubclass(recorders.EventraftTrackingRecorder):
    pass


class FactoryCase:
    """The library's factory test case bound to eventraft's classes, on a log of the test's
    own (put before the log's class: ``start_log`` adds it to the library's ``env``)."""

    env: Environment
    factory: Factory

    def setUp(self) -> None:
        self.env = Environment("TestCase")
        super().setUp()  # type: ignore[misc]

    def start_log(self, stack: object, tmp: Path) -> dict[str, str]:
        log_env: dict[str, str] = super().start_log(stack, tmp)  # type: ignore[misc]
        self.env.update({"PERSISTENCE_MODULE": logs.MODULE, **log_env})
        return log_env

    def expected_factory_class(self) -> type[Factory]:
        return Factory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return recorders.EventraftAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return recorders.EventraftApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return recorders.EventraftTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return recorders.EventraftProcessRecorder

    def test_snapshot_recorder(self) -> None:
        recorder = self.factory.aggregate_recorder("snapshots")
        assert isinstance(recorder, snapshots.EventraftSnapshotRecorder)


class TestFactoryOnEmbedded(
    FactoryCase, logs.Embedded, library.InfrastructureFactoryTestCase[Factory]
):
    pass


class TestFactoryOnCluster(
    FactoryCase, logs.Cluster, library.InfrastructureFactoryTestCase[Factory]
):
    pass


class TestConstruction(TestCase):
    def test_the_module_holds_one_factory(self) -> None:
        with TemporaryDirectory() as tmp:
            env = {"PERSISTENCE_MODULE": logs.MODULE, "EVENTRAFT_PATH": tmp}
            made = InfrastructureFactory.construct(Environment("Shop", env))
            try:
                self.assertIs(type(made), factory.Factory)
            finally:
                made.close()
            self.assertNotIn(Path(tmp).resolve(), stores.shared_paths())  # it opened none
