"""The event-store contract, written once and run against every store: the embedded store and
a real three-node cluster (after eventsourcing's persistence test cases)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

import pytest

from eventlog.api import EventLog
from eventlog.errors import InvalidRequest, LeaseHeld, TrackingConflict, WrongExpectedVersion
from eventlog.records import NO_STREAM, NewEvent, Tracking

_names = itertools.count()


Store = EventLog


def fresh(prefix: str = "s") -> str:
    return f"{prefix}-{os.getpid()}-{next(_names)}"


def ev(data: str, type_: str = "Happened") -> NewEvent:
    return NewEvent(type_, data.encode(), b"meta")


class EventStoreContract:
    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError

    def test_append_assigns_versions_and_dense_positions(self, store: Store) -> None:
        stream = fresh()
        first = store.append(stream, [ev("a"), ev("b")], NO_STREAM)
        second = store.append(stream, [ev("c")], 2)
        assert first.stream_version == 2 and second.stream_version == 3
        assert first.last_position == first.first_position + 1
        assert second.first_position > first.last_position
        events = store.read_stream(stream)
        assert [(e.version, e.data) for e in events] == [(1, b"a"), (2, b"b"), (3, b"c")]
        assert [e.position for e in events][:2] == [first.first_position, first.last_position]
        assert all(
            e.stream == stream and e.type == "Happened" and e.metadata == b"meta" for e in events
        )

    def test_read_stream_backwards_starts_at_the_newest(self, store: Store) -> None:
        stream, neighbour = fresh(), fresh()
        store.append(stream, [ev("a"), ev("b")], NO_STREAM)
        store.append(neighbour, [ev("x")], NO_STREAM)
        store.append(stream, [ev("c"), ev("d")], 2)
        newest = fresh()
        store.append(newest, [ev("y")], NO_STREAM)
        newest_first = store.read_stream_backwards(stream)
        assert [(e.version, e.data) for e in newest_first] == [
            (4, b"d"),
            (3, b"c"),
            (2, b"b"),
            (1, b"a"),
        ]
        assert [e.data for e in store.read_stream_backwards(stream, limit=1)] == [b"d"]
        assert [e.data for e in store.read_stream_backwards(stream, 2, 5)] == [b"b", b"a"]
        assert [e.data for e in store.read_stream_backwards(stream, 99, 1)] == [b"d"]
        assert store.read_stream_backwards(fresh()) == []
        assert [e.data for e in store.read_stream_backwards(neighbour)] == [b"x"]
        assert [e.data for e in store.read_stream_backwards(newest)] == [b"y"]

    def test_read_all_is_dense_and_ordered(self, store: Store) -> None:
        store.append(fresh(), [ev("x")])
        events = store.read_all()
        assert [e.position for e in events] == list(range(1, len(events) + 1))
        tail = store.read_all(from_position=len(events), limit=1)
        assert [e.position for e in tail] == [len(events)]

    def test_wrong_expected_version_is_typed_and_writes_nothing(self, store: Store) -> None:
        stream = fresh()
        store.append(stream, [ev("a")])
        with pytest.raises(WrongExpectedVersion) as caught:
            store.append(stream, [ev("b")], 5)
        assert (caught.value.stream, caught.value.expected, caught.value.actual) == (stream, 5, 1)
        with pytest.raises(WrongExpectedVersion):
            store.append(stream, [ev("c")], NO_STREAM)
        assert [e.data for e in store.read_stream(stream)] == [b"a"]

    def test_multi_stream_append_is_all_or_nothing(self, store: Store) -> None:
        a, b = fresh("a"), fresh("b")
        store.append(b, [ev("b1")])
        with pytest.raises(WrongExpectedVersion):
            store.append_multi([(a, [ev("a1")], NO_STREAM), (b, [ev("b2")], NO_STREAM)])
        assert store.read_stream(a) == []
        result = store.append_multi([(a, [ev("a1")], NO_STREAM), (b, [ev("b2")], 1)])
        assert result.last_position - result.first_position == 1
        assert [e.data for e in store.read_stream(b)] == [b"b1", b"b2"]

    def test_retry_with_the_same_request_id_appends_once(self, store: Store) -> None:
        stream, request_id = fresh(), os.urandom(16)
        first = store.append(stream, [ev("once")], NO_STREAM, request_id=request_id)
        again = store.append(stream, [ev("once")], NO_STREAM, request_id=request_id)
        assert again == first
        assert len(store.read_stream(stream)) == 1

    def test_events_carry_time_ordered_ids_and_timestamps(self, store: Store) -> None:
        stream = fresh()
        store.append(stream, [ev("1"), ev("2")])
        first, second = store.read_stream(stream)
        assert len(first.id) == 16 and first.id < second.id
        assert first.timestamp > 0 and first.timestamp == second.timestamp

    def test_bad_input_is_refused_with_a_typed_error(self, store: Store) -> None:
        with pytest.raises(InvalidRequest):
            store.append("", [ev("x")])
        with pytest.raises(InvalidRequest):
            store.append(fresh(), [])
        with pytest.raises(InvalidRequest):
            store.append(fresh(), [ev("x")], -7)

    @pytest.mark.parametrize(
        ("read", "message"),
        [
            (lambda s: s.read_all(from_position=0), "from_position must be at least 1"),
            (lambda s: s.read_all(limit=0), "limit must be at least 1"),
            (lambda s: s.read_all(from_position="1"), "from_position must be an int, not str"),
            (lambda s: s.read_all(min_position=-1), "min_position must be at least 0"),
            (lambda s: s.read_stream("x", from_version=0), "from_version must be at least 1"),
            (lambda s: s.read_stream(123), "stream name must be a str, not int"),
            (lambda s: s.read_stream("x" * 2000), "stream name must be 1..1024 bytes"),
            (lambda s: s.read_stream_backwards("x", 0), "from_version must be at least 1"),
            (lambda s: next(iter(s.subscribe(0))), "from_position must be at least 1"),
        ],
        ids=["position-0", "limit-0", "position-str", "min-negative", "version-0",
             "stream-int", "stream-long", "backwards-0", "subscribe-0"],
    )  # fmt: skip
    def test_a_read_that_cannot_mean_anything_is_refused_at_once(
        self, store: Store, read: Callable[[Store], object], message: str
    ) -> None:
        with pytest.raises(InvalidRequest, match=message) as refused:
            read(store)
        assert len(str(refused.value)) < 200, "a long name is not echoed whole"

    def test_subscribe_yields_past_then_new_events(self, store: Store) -> None:
        stream = fresh()
        first = store.append(stream, [ev("old")])
        iterator = iter(store.subscribe(first.first_position))
        assert next(iterator).data == b"old"
        store.append(stream, [ev("new")])
        assert next(iterator).data == b"new"

    def test_subscribe_batches_yields_whole_batches_in_order_then_new_ones(
        self, store: Store
    ) -> None:
        stream = fresh()
        first = store.append(stream, [ev(f"old-{n}") for n in range(5)])
        batches = iter(store.subscribe_batches(first.first_position))
        batch = next(batches)
        assert [e.data for e in batch] == [f"old-{n}".encode() for n in range(5)]
        assert [e.position for e in batch] == list(
            range(first.first_position, first.last_position + 1)
        )
        store.append(stream, [ev("new-0"), ev("new-1")])
        new = next(batches)
        assert new and new[0].position == first.last_position + 1
        assert [e.data for e in new] == [b"new-0", b"new-1"]

    def test_a_lease_has_one_holder_a_growing_token_and_can_be_released(self, store: Store) -> None:
        name = fresh("lease")
        first = store.acquire_lease(name, "worker-a", 30.0, checkpoint=7)
        assert (first.name, first.owner, first.checkpoint) == (name, "worker-a", 7)
        with pytest.raises(LeaseHeld) as held:
            store.acquire_lease(name, "worker-b", 30.0)
        assert (held.value.name, held.value.owner) == (name, "worker-a")
        renewed = store.acquire_lease(name, "worker-a", 30.0, checkpoint=9)
        assert renewed.token == first.token and renewed.expires_ms >= first.expires_ms
        listed = {grant.name: grant for grant in store.leases()}
        assert listed[name].checkpoint == 9 and listed[name].owner == "worker-a"
        store.release_lease(name, "worker-a", first.token)
        released = {grant.name: grant for grant in store.leases()}[name]
        assert (released.released, released.owner, released.checkpoint) == (True, "worker-a", 9)
        taken = store.acquire_lease(name, "worker-b", 30.0)
        assert taken.owner == "worker-b" and taken.token > first.token

    def test_a_tracking_record_commits_with_the_events_of_its_reaction(self, store: Store) -> None:
        consumer, stream = fresh("consumer"), fresh()
        assert store.max_tracking(consumer) is None
        assert not store.has_tracking(consumer, 0)
        result = store.append(stream, [ev("reaction")], NO_STREAM, tracking=Tracking(consumer, 7))
        assert result.stream_version == 1
        assert store.max_tracking(consumer) == 7
        assert [store.has_tracking(consumer, p) for p in (6, 7, 8)] == [True, True, False]
        later = store.append_multi([(stream, [ev("next")], 1)], tracking=Tracking(consumer, 9))
        assert later.stream_version == 2
        assert store.max_tracking(consumer) == 9

    @pytest.mark.parametrize("position", [9, 8], ids=["same", "lower"])
    def test_a_reaction_repeated_is_refused_typed_and_writes_nothing(
        self, store: Store, position: int
    ) -> None:
        consumer, stream = fresh("consumer"), fresh()
        store.append(stream, [ev("first")], NO_STREAM, tracking=Tracking(consumer, 9))
        with pytest.raises(TrackingConflict) as refused:
            store.append(stream, [ev("again")], tracking=Tracking(consumer, position))
        assert (refused.value.name, refused.value.position, refused.value.recorded) == (
            consumer,
            position,
            9,
        )
        assert [e.data for e in store.read_stream(stream)] == [b"first"]
        assert store.max_tracking(consumer) == 9

    def test_a_tracking_record_may_be_written_alone_and_positions_may_skip(
        self, store: Store
    ) -> None:
        consumer = fresh("consumer")
        before = store.read_all(from_position=1)
        alone = store.append_multi([], tracking=Tracking(consumer, 21))
        assert alone.stream_version == 0 and alone.first_position == alone.last_position + 1
        assert store.read_all(from_position=1) == before, "no event written"
        store.append_multi([], tracking=Tracking(consumer, 24))
        with pytest.raises(TrackingConflict):
            store.append_multi([], tracking=Tracking(consumer, 23))  # no filling in a gap
        assert store.max_tracking(consumer) == 24
        assert store.max_tracking(fresh("other")) is None, "each name its own record"

    def test_a_retried_append_with_tracking_returns_its_first_result(self, store: Store) -> None:
        consumer, stream, request_id = fresh("consumer"), fresh(), os.urandom(16)
        tracking = Tracking(consumer, 3)
        first = store.append(stream, [ev("once")], NO_STREAM, request_id=request_id,
                             tracking=tracking)  # fmt: skip
        again = store.append(stream, [ev("once")], NO_STREAM, request_id=request_id,
                             tracking=tracking)  # fmt: skip
        assert again == first, "the first result, not TrackingConflict"
        assert len(store.read_stream(stream)) == 1

    def test_a_tracking_record_that_cannot_mean_anything_is_refused_at_once(
        self, store: Store
    ) -> None:
        with pytest.raises(InvalidRequest, match=r"tracking name must be 1\.\.256 bytes"):
            store.append(fresh(), [ev("x")], tracking=Tracking("", 1))
        with pytest.raises(InvalidRequest, match="tracking position must be an int"):
            store.append(fresh(), [ev("x")], tracking=Tracking("c", -1))
        with pytest.raises(InvalidRequest, match="at least one stream"):
            store.append_multi([])
        with pytest.raises(InvalidRequest, match=r"tracking name must be 1\.\.256 bytes"):
            store.max_tracking("x" * 300)
