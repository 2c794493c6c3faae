"""The deterministic apply: positions, versions, expected versions, idempotency, digest, ids."""

from __future__ import annotations

import uuid

import pytest

from eventlog.errors import CorruptRecord, InvalidRequest, WrongExpectedVersion
from eventlog.protocol.requests import (
    KIND_CLUSTER,
    REQUEST_ID_BYTES,
    check_client_request,
    new_request_id,
)
from eventlog.records import ANY, NO_STREAM, AppendResult
from eventlog.state.batch import batch_of
from eventlog.state.machine import (
    INITIAL_DIGEST,
    REQUEST_RETENTION_MS,
    chain_digest,
    event_id,
)
from eventlog.state.memory import MemoryState
from eventlog.state.outcomes import ClusterNamed, Outcome
from eventlog.types import Position
from tests.store import TS, AppendRequest, batch, events, one, req, rid


def ok(first: int, last: int, version: int) -> AppendResult:
    return AppendResult(
        first_position=Position(first), last_position=Position(last), stream_version=version
    )


def test_positions_are_dense_and_versions_count_per_stream() -> None:
    state = MemoryState()
    state.apply(batch(one(1, "a", "A1", "A2"), one(2, "b", "B1")), batch(one(3, "a", "A3")))
    assert [(p, s, v) for p, s, v, _, _ in state.events] == [
        (1, "a", 1),
        (2, "a", 2),
        (3, "b", 1),
        (4, "a", 3),
    ]
    assert state.versions == {"a": 3, "b": 1}
    assert state.position == 4


def test_outcome_reports_positions_and_the_first_streams_version() -> None:
    state = MemoryState()
    state.apply(batch(one(1, "b", "B1")))
    [[outcome]] = state.apply(
        batch(req(2, ("a", ANY, events("A1", "A2")), ("b", 1, events("B2")))), first_index=2
    )
    assert outcome == Outcome(request_id=rid(2), result=ok(2, 4, 2))


@pytest.mark.parametrize(
    ("expected", "accepted"),
    [(ANY, True), (NO_STREAM, False), (2, True), (1, False), (3, False)],
)
def test_expected_version_of_an_existing_stream(expected: int, accepted: bool) -> None:
    state = MemoryState()
    state.apply(batch(one(1, "s", "E1", "E2")))
    [[outcome]] = state.apply(batch(one(2, "s", "E3", expected=expected)), first_index=2)
    assert (outcome.result is not None) is accepted
    assert state.versions["s"] == (3 if accepted else 2)
    if not accepted:
        assert outcome.error is not None
        assert (outcome.error.stream, outcome.error.expected, outcome.error.actual) == (
            "s",
            expected,
            2,
        )


@pytest.mark.parametrize(("expected", "accepted"), [(ANY, True), (NO_STREAM, True), (1, False)])
def test_expected_version_of_a_new_stream(expected: int, accepted: bool) -> None:
    [[outcome]] = MemoryState().apply(batch(one(1, "new", "E1", expected=expected)))
    assert (outcome.error is None) is accepted
    if outcome.error is not None:
        assert isinstance(outcome.error, WrongExpectedVersion)
        assert outcome.error.actual == 0


def test_a_conflict_on_any_stream_appends_nothing_of_the_request() -> None:
    state = MemoryState()
    state.apply(batch(one(1, "b", "B1")))
    request = req(2, ("a", NO_STREAM, events("A1")), ("b", NO_STREAM, events("B2")))
    [[outcome]] = state.apply(batch(request), first_index=2)
    assert outcome.error is not None
    assert (outcome.error.stream, outcome.error.expected, outcome.error.actual) == ("b", 0, 1)
    assert state.versions == {"b": 1}
    assert state.position == 1
    assert len(state.events) == 1


def test_a_retried_request_gets_its_first_outcome_and_appends_nothing() -> None:
    state = MemoryState()
    [[first]] = state.apply(batch(one(1, "s", "E1", expected=NO_STREAM)))
    digest = state.chain
    [[again, again_in_batch]] = state.apply(
        batch(one(1, "s", "E1", expected=NO_STREAM), one(1, "s", "E1")), first_index=2
    )
    assert again == again_in_batch == first == Outcome(request_id=rid(1), result=ok(1, 1, 1))
    assert (state.position, state.versions, state.chain) == (1, {"s": 1}, digest)


def test_a_retried_conflict_gets_the_same_error_even_if_it_would_now_succeed() -> None:
    state = MemoryState()
    [[first]] = state.apply(batch(one(1, "s", "E1", expected=1)))
    state.apply(batch(one(2, "s", "E1")), first_index=2)
    [[again]] = state.apply(batch(one(1, "s", "E1", expected=1)), first_index=3)
    assert again == first
    assert again.error is not None and again.error.actual == 0
    assert state.versions == {"s": 1}


def test_a_request_id_is_remembered_for_the_retention_and_then_forgotten() -> None:
    state = MemoryState()
    [[first]] = state.apply(batch(one(1, "s", "E1"), ts=TS))
    [[within]] = state.apply(batch(one(1, "s", "E1"), ts=TS + REQUEST_RETENTION_MS), first_index=2)
    assert within == first and state.position == 1
    [[after]] = state.apply(
        batch(one(1, "s", "E1"), ts=TS + REQUEST_RETENTION_MS + 1), first_index=3
    )
    assert after == Outcome(request_id=rid(1), result=ok(2, 2, 2))
    assert after.applied_ms == TS + REQUEST_RETENTION_MS + 1


def test_the_clock_never_goes_back_so_an_expired_id_stays_expired() -> None:
    entries = (
        batch(one(1, "s", "E1"), ts=TS),
        batch(one(2, "t", "T1"), ts=TS + REQUEST_RETENTION_MS + 1),
        batch(one(1, "s", "E1"), ts=TS),  # a new leader whose wall clock is behind
    )
    together, apart = MemoryState(), MemoryState()
    outcomes = together.apply(*entries)
    for n, data in enumerate(entries):
        apart.apply(data, first_index=n + 1)
    assert outcomes[2][0] == Outcome(request_id=rid(1), result=ok(3, 3, 2))
    assert together.clock == apart.clock == TS + REQUEST_RETENTION_MS + 1
    assert (together.chain, together.position) == (apart.chain, apart.position)


def test_a_retry_within_one_apply_call_sees_the_write_set_overlay() -> None:
    state = MemoryState()
    outcomes = state.apply(batch(one(1, "s", "E1")), batch(one(1, "s", "E1"), one(2, "s", "E2")))
    assert outcomes[1][0] == outcomes[0][0]
    assert outcomes[1][1] == Outcome(request_id=rid(2), result=ok(2, 2, 2))


def test_ordinals_count_every_event_of_the_batch_including_failed_and_repeated() -> None:
    state = MemoryState()
    state.apply(
        batch(
            one(1, "s", "E1", "E2"),
            one(2, "s", "X1", "X2", "X3", expected=NO_STREAM),  # fails: ordinals 2..4
            one(1, "s", "E1", "E2"),  # repeat: ordinals 5..6
            req(3, ("t", ANY, events("T1")), ("s", 2, events("E3"))),  # ordinals 7, 8
        )
    )
    assert [(p, s, ordinal) for p, s, _, _, ordinal in state.events] == [
        (1, "s", 0),
        (2, "s", 1),
        (3, "t", 7),
        (4, "s", 8),
    ]
    assert {index for _, _, _, index, _ in state.events} == {1}


def test_digest_is_the_chain_of_every_event_in_position_order() -> None:
    state = MemoryState()
    state.apply(batch(one(1, "a", "A1"), req(2, ("b", ANY, events("B1", "B2")))))
    expected = INITIAL_DIGEST
    for position, (stream, version, kind) in enumerate(
        [("a", 1, "A1"), ("b", 1, "B1"), ("b", 2, "B2")], start=1
    ):
        [event] = events(kind)
        expected = chain_digest(
            expected, position, stream, version, kind, event.data, event.metadata
        )
    assert state.chain == expected
    assert len(expected) == 32 and expected != INITIAL_DIGEST


def test_same_history_same_digest_however_it_was_batched() -> None:
    one_batch, three_batches = MemoryState(), MemoryState()
    one_batch.apply(batch(one(1, "a", "A1"), one(2, "b", "B1"), one(3, "a", "A2")))
    for n, (stream, kind) in enumerate([("a", "A1"), ("b", "B1"), ("a", "A2")], start=1):
        three_batches.apply(batch(one(n + 10, stream, kind)), first_index=n)
    assert one_batch.chain == three_batches.chain


@pytest.mark.parametrize(
    "other",
    [
        [one(1, "a", "A1"), one(2, "a", "A3")],  # another type
        [one(1, "a", "A1"), one(2, "c", "A2")],  # another stream
        [one(2, "a", "A2"), one(1, "a", "A1")],  # another order
        [one(1, "a", "A1")],  # shorter
    ],
)
def test_different_history_different_digest(other: list[AppendRequest]) -> None:
    base, changed = MemoryState(), MemoryState()
    base.apply(batch(one(1, "a", "A1"), one(2, "a", "A2")))
    changed.apply(batch(*other))
    assert base.chain != changed.chain


def test_chain_digest_separates_fields_by_length() -> None:
    assert chain_digest(INITIAL_DIGEST, 1, "ab", 1, "c", b"", b"") != chain_digest(
        INITIAL_DIGEST, 1, "a", 1, "bc", b"", b""
    )
    assert chain_digest(INITIAL_DIGEST, 1, "s", 1, "t", b"d", b"") != chain_digest(
        INITIAL_DIGEST, 1, "s", 1, "t", b"", b"d"
    )


def test_two_independent_applies_agree_exactly() -> None:
    entries = [
        batch(one(1, "a", "A1", "A2"), one(2, "b", "B1", expected=NO_STREAM)),
        batch(one(3, "b", "B2", expected=5), req(4, ("a", 2, events("A3")), ("c", 0, events("C")))),
        batch(one(2, "b", "B1", expected=NO_STREAM), one(5, "c", "C2", expected=1)),
    ]
    together, one_by_one = MemoryState(), MemoryState()
    outcomes_together = together.apply(*entries)
    outcomes_apart = [
        one_by_one.apply(data, first_index=i)[0] for i, data in enumerate(entries, start=1)
    ]
    assert outcomes_together == outcomes_apart
    assert together == one_by_one


def test_event_ids_are_uuid7_unique_and_time_ordered() -> None:
    ids = [event_id(ts, p) for ts, p in [(5, 1), (5, 2), (6, 3), (6, 2**62), (7, 2**62 + 1)]]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for raw in ids:
        parsed = uuid.UUID(bytes=raw)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert int.from_bytes(ids[2][:6], "big") == 6
    assert event_id(5, 1) == event_id(5, 1)


def test_outcomes_round_trip_through_their_record_form() -> None:
    for outcome in [
        Outcome(request_id=rid(1), result=ok(1, 3, 3)),
        Outcome(request_id=rid(2), error=WrongExpectedVersion("s", 4, 2)),
    ]:
        assert Outcome.from_record(outcome.to_record()) == outcome


@pytest.mark.parametrize(
    "raw", [None, [], [b"id", 9, 1, 2, 3], [b"id", 0, "x", 2, 3], ["id", 0, 1, 2, 3]]
)
def test_malformed_outcomes_are_corrupt_records(raw: object) -> None:
    with pytest.raises(CorruptRecord):
        Outcome.from_record(raw)


def test_an_outcome_has_exactly_one_of_result_and_error() -> None:
    with pytest.raises(ValueError):
        Outcome(request_id=rid(1))
    with pytest.raises(ValueError):
        Outcome(request_id=rid(1), result=ok(1, 1, 1), error=WrongExpectedVersion("s", 1, 0))


def test_an_undecodable_entry_is_a_corrupt_record_and_writes_nothing() -> None:
    state = MemoryState()
    with pytest.raises(CorruptRecord):
        state.apply(batch(one(1, "s", "E")), b"\x93garbage")
    assert state == MemoryState()


def test_new_request_ids_are_unique_and_sort_by_the_time_they_were_made() -> None:
    earlier = [new_request_id() for _ in range(1000)]
    later_ms = int.from_bytes(earlier[-1][:6], "big") + 1
    while int.from_bytes((later := new_request_id())[:6], "big") < later_ms:
        pass
    assert len(set(earlier)) == 1000
    assert all(len(rid) == REQUEST_ID_BYTES for rid in earlier)
    assert max(earlier) < later


def test_the_first_request_naming_the_cluster_names_it_and_later_ones_change_nothing() -> None:
    state = MemoryState()
    first = [KIND_CLUSTER, rid(1), ["b0b0"]]
    second = [KIND_CLUSTER, rid(2), ["c0c0"]]
    [[named], [again]] = state.apply(batch_of(TS, TS, [first]), batch_of(TS, TS, [second]))
    assert state.cluster_id() == "b0b0"
    assert named.result == again.result == ClusterNamed(cluster_id="b0b0")
    assert Outcome.from_record(again.to_record()) == again
    assert state.position == 0, "naming the cluster appends no event"
    with pytest.raises(InvalidRequest, match="clients may not name the cluster"):
        check_client_request([KIND_CLUSTER, rid(3), ["x"]])
