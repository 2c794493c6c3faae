"""The infrastructure factory ``PERSISTENCE_MODULE=eventraft.eventsourcing`` names: it reads
the settings, opens the log once, and hands every recorder the application asks for the same
log. ``close()`` gives back what it opened (``Application.close`` calls it)."""

from __future__ import annotations

from typing import TypeVar

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    InfrastructureFactoryError,
    ProcessRecorder,
    ProgrammingError,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic

from eventraft.eventsourcing.naming import Naming, check_category
from eventraft.eventsourcing.recorders import (
    EventraftAggregateRecorder,
    EventraftApplicationRecorder,
    EventraftProcessRecorder,
    EventraftRecorder,
    EventraftTrackingRecorder,
)
from eventraft.eventsourcing.settings import read_settings
from eventraft.eventsourcing.snapshots import EventraftSnapshotRecorder
from eventraft.eventsourcing.stores import Log

__all__ = [
    "Factory",
]

R = TypeVar("R", bound=EventraftRecorder)


class Factory(InfrastructureFactory[EventraftTrackingRecorder]):
    """Recorders on one eventraft log: a cluster's, or an embedded store's."""

    aggregate_recorder_class = EventraftAggregateRecorder
    snapshot_recorder_class = EventraftSnapshotRecorder
    application_recorder_class = EventraftApplicationRecorder
    tracking_recorder_class = EventraftTrackingRecorder
    process_recorder_class = EventraftProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.settings = read_settings(self.env)
        self.naming = Naming(self.settings.category)
        self.log = Log.of(self.settings)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        """Aggregate events for ``events``; sparse records (snapshots) for any other."""
        if purpose == "events":
            return self.aggregate_recorder_class(self.log, self.naming)
        reason = check_category(purpose)
        if reason is not None:
            raise ProgrammingError(f"an aggregate recorder's purpose {purpose!r}: {reason}")
        return self.snapshot_recorder_class(self.log, self.naming.sparse_prefix(purpose))

    def application_recorder(self) -> ApplicationRecorder:
        cls = self._chosen(self.APPLICATION_RECORDER_TOPIC, self.application_recorder_class)
        return cls(self.log, self.naming)

    def tracking_recorder(
        self, tracking_recorder_class: type[EventraftTrackingRecorder] | None = None
    ) -> EventraftTrackingRecorder:
        cls = tracking_recorder_class or self._chosen(
            self.TRACKING_RECORDER_TOPIC, self.tracking_recorder_class
        )
        if not issubclass(cls, EventraftTrackingRecorder):
            raise InfrastructureFactoryError(f"{cls} is not an EventraftTrackingRecorder")
        return cls(self.log, self.naming)

    def process_recorder(self) -> ProcessRecorder:
        cls = self._chosen(self.PROCESS_RECORDER_TOPIC, self.process_recorder_class)
        return cls(self.log, self.naming)

    def _chosen(self, setting: str, default: type[R]) -> type[R]:
        """The recorder class the topic in ``setting`` names (a subclass of ``default``),
        or ``default``."""
        topic = self.env.get(setting)
        if not topic:
            return default
        chosen = resolve_topic(topic)
        if not (isinstance(chosen, type) and issubclass(chosen, default)):
            raise InfrastructureFactoryError(
                f"{setting}={topic!r} is not a subclass of {default.__name__}"
            )
        return chosen

    def close(self) -> None:
        self.log.close()
