"""The library's recorder test cases on a real three-node cluster of processes over TLS, a
fresh cluster per test (notification ids start at 1): some 2 s each to start."""

from __future__ import annotations

from tests.eventsourcing import logs
from tests.eventsourcing import recorder_cases as cases


class TestAggregateRecorder(logs.Cluster, cases.AggregateRecorderCases):
    pass


class TestApplicationRecorder(logs.Cluster, cases.ApplicationRecorderCases):
    pass


class TestTrackingRecorder(logs.Cluster, cases.TrackingRecorderCases):
    pass


class TestProcessRecorder(logs.Cluster, cases.ProcessRecorderCases):
    pass


class TestNonInterleavingNotificationIDs(logs.Cluster, cases.NonInterleavingCases):
    pass
