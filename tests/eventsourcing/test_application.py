"""The library's application test cases, their applications configured through ``os.environ``
as the library's own SQLite and PostgreSQL modules are tested: on the embedded store, and on
a cluster (a fresh one per test)."""

from __future__ import annotations

from eventsourcing.tests import application as library

from tests.eventsourcing import logs

FACTORY_TOPIC = "eventraft.eventsourcing.factory:Factory"


class TestApplicationOnEmbedded(logs.Embedded, logs.InOsEnviron, library.ApplicationTestCase):
    pass


class TestExampleApplicationOnEmbedded(
    logs.Embedded, logs.InOsEnviron, library.ExampleApplicationTestCase
):
    expected_factory_topic = FACTORY_TOPIC


class TestExampleApplicationOnCluster(
    logs.Cluster, logs.InOsEnviron, library.ExampleApplicationTestCase
):
    expected_factory_topic = FACTORY_TOPIC


class TestApplicationOnCluster(logs.Cluster, logs.InOsEnviron, library.ApplicationTestCase):
    pass
