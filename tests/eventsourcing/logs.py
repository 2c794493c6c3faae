"""A fresh log for each test (notification ids start at 1 in the library's test cases): an
embedded store in a directory of its own, or a real three-node cluster of processes reached
over TLS with the ``admin`` client certificate, as a user would. Everything a test starts is
stopped by ``addCleanup``, which runs even when ``setUp`` fails half-way."""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import TestCase

from eventsourcing.persistence import (
    ApplicationRecorder,
    Notification,
    ProcessRecorder,
    StoredEvent,
)
from eventsourcing.utils import Environment

from eventraft.eventsourcing import Factory
from tests.cluster.harness import local_cluster

MODULE = "eventraft.eventsourcing"
CLUSTER_START_SECONDS = 20


class FreshLog(TestCase):
    """Gives each test ``self.log_env``: the settings of a log of its own."""

    log_env: dict[str, str]

    def setUp(self) -> None:
        stack = ExitStack()
        self.addCleanup(stack.close)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        self.log_env = self.start_log(stack, tmp)
        super().setUp()  # after: the library's own setUp may need the log already

    def start_log(self, stack: ExitStack, tmp: Path) -> dict[str, str]:
        raise NotImplementedError

    def factory(self, name: str = "RecorderTest", **more: str) -> Factory:
        """A factory on this test's log, closed when the test ends."""
        env = Environment(name, {"PERSISTENCE_MODULE": MODULE, **self.log_env, **more})
        factory = Factory(env)
        self.addCleanup(factory.close)
        return factory


class Embedded(FreshLog):
    def start_log(self, stack: ExitStack, tmp: Path) -> dict[str, str]:
        return {"EVENTRAFT_PATH": str(tmp / "log")}


class Cluster(FreshLog):
    def start_log(self, stack: ExitStack, tmp: Path) -> dict[str, str]:
        cluster = stack.enter_context(local_cluster(tmp, tls=True))
        cluster.leader(timeout=CLUSTER_START_SECONDS)
        tls = cluster.tls
        assert tls is not None and tls.cert is not None and tls.key is not None
        return {
            "EVENTRAFT_CLUSTER": cluster.addresses,
            "EVENTRAFT_TLS_CA": tls.ca,
            "EVENTRAFT_TLS_CERT": tls.cert,
            "EVENTRAFT_TLS_KEY": tls.key,
        }


class InOsEnviron(TestCase):
    """The log's settings in ``os.environ`` for the test, as the library's application test
    cases configure their applications (each test's own log: ``FreshLog`` before this)."""

    log_env: dict[str, str]

    def setUp(self) -> None:
        super().setUp()
        names = {"PERSISTENCE_MODULE": MODULE, **self.log_env}
        saved = {name: os.environ.get(name) for name in names}
        self.addCleanup(_restore, saved)
        os.environ.update(names)


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class VersionsFromOne(ProcessRecorder):
    """The recorder given, with every originator version one higher in the log than the
    caller says (and one lower again as read back). Only for the library's tests that number
    an aggregate's events from 0, which eventraft refuses (its versions start at 1): they
    run unchanged, each version moved up by one. Every override that uses it says so."""

    def __init__(self, recorder: ProcessRecorder | ApplicationRecorder) -> None:
        self.recorder = recorder

    def insert_events(self, stored_events: Any, **kwargs: Any) -> Any:
        moved = [_moved(e, +1) for e in stored_events]
        return self.recorder.insert_events(moved, **kwargs)

    def select_events(self, originator_id: Any, **kwargs: Any) -> Any:
        return [_moved(e, -1) for e in self.recorder.select_events(originator_id, **kwargs)]

    def select_notifications(self, *args: Any, **kwargs: Any) -> Any:
        return [
            Notification(
                id=n.id,
                originator_id=n.originator_id,
                originator_version=n.originator_version - 1,
                topic=n.topic,
                state=n.state,
            )
            for n in self.recorder.select_notifications(*args, **kwargs)
        ]

    def max_notification_id(self) -> int | None:
        return self.recorder.max_notification_id()

    def subscribe(self, gt: Any = None, topics: Any = ()) -> Any:
        raise NotImplementedError

    def insert_tracking(self, tracking: Any) -> None:
        assert isinstance(self.recorder, ProcessRecorder)
        self.recorder.insert_tracking(tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder.max_tracking_id(application_name)


def _moved(event: StoredEvent, by: int) -> StoredEvent:
    return StoredEvent(event.originator_id, event.originator_version + by, event.topic, event.state)
