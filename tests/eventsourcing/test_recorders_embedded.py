"""The library's recorder test cases on the embedded store, a fresh directory per test."""

from __future__ import annotations

from tests.eventsourcing import logs
from tests.eventsourcing import recorder_cases as cases


class TestAggregateRecorder(logs.Embedded, cases.AggregateRecorderCases):
    pass


class TestAggregateRecorderWithTextIDs(
    cases.WithTextOriginatorIDs, logs.Embedded, cases.AggregateRecorderCases
):
    pass


class TestApplicationRecorder(logs.Embedded, cases.ApplicationRecorderCases):
    pass


class TestApplicationRecorderWithTextIDs(
    cases.WithTextOriginatorIDs, logs.Embedded, cases.ApplicationRecorderCases
):
    pass


class TestTrackingRecorder(logs.Embedded, cases.TrackingRecorderCases):
    pass


class TestProcessRecorder(logs.Embedded, cases.ProcessRecorderCases):
    pass


class TestProcessRecorderWithTextIDs(
    cases.WithTextOriginatorIDs, logs.Embedded, cases.ProcessRecorderCases
):
    pass


class TestNonInterleavingNotificationIDs(logs.Embedded, cases.NonInterleavingCases):
    pass
