"""Filtered reads and subscriptions, the same on every store: the node keeps what the filter
names (stream prefixes, event types), leaves the system's streams out unless asked, and says
how far it looked, so a consumer's checkpoint moves past what it skipped."""

from __future__ import annotations

import pytest

from eventlog.errors import InvalidRequest
from eventlog.records import MAX_FILTER_TERMS, EventFilter, NewEvent
from eventlog.store.reads import SUBSCRIPTION_BATCH
from tests.cluster.contract import Store, ev, fresh


class FilterContract:
    def test_a_filter_keeps_the_streams_and_types_it_names(self, store: Store) -> None:
        orders, users = fresh("orders"), fresh("users")
        start = store.append(orders + "-1", [ev("a", "Placed"), ev("b", "Paid")]).first_position
        store.append(users + "-1", [ev("c", "Placed")])
        store.append(orders + "-2", [ev("d", "Placed")])
        store.append("$snapshot-" + orders + "-1", [ev("s", "Snapshot")])
        store.append(orders + "-1", [ev("e", "Shipped")])

        def data(filter: EventFilter) -> list[bytes]:
            return [e.data for e in store.read_all(start, filter=filter)]

        assert data(EventFilter(streams=(orders,))) == [b"a", b"b", b"d", b"e"]
        assert data(EventFilter(streams=(orders,), types=("Placed",))) == [b"a", b"d"]
        assert data(EventFilter(streams=(orders, users), types=("Placed", "Shipped"))) == [
            b"a",
            b"c",
            b"d",
            b"e",
        ]
        assert data(EventFilter(types=("Snapshot",))) == [], "system streams left out"
        assert data(EventFilter(types=("Snapshot",), system=True)) == [b"s"]
        assert data(EventFilter(streams=("$snapshot-" + orders,))) == [b"s"], "named: kept"
        assert [e.data for e in store.read_all(start)] == [b"a", b"b", b"c", b"d", b"s", b"e"]
        limited = store.read_all(start, 2, filter=EventFilter(streams=(orders,)))
        assert [e.data for e in limited] == [b"a", b"b"]

    def test_a_page_says_how_far_it_looked(self, store: Store) -> None:
        category = fresh("paged")
        first = store.append(category + "-1", [ev("wanted")]).first_position
        store.append(fresh("other"), [ev(str(n)) for n in range(5)])
        last = store.append(category + "-1", [ev("wanted too")]).last_position
        wanted = EventFilter(streams=(category,))
        page = store.read_page(first, 1, filter=wanted)
        assert [e.data for e in page.events] == [b"wanted"]
        assert page.next_position == first + 1, "it stopped at its limit"
        page = store.read_page(first + 1, filter=wanted)
        assert [e.data for e in page.events] == [b"wanted too"]
        assert page.next_position == last + 1 and page.head >= last
        assert page.at_end or page.head > last
        nothing = store.read_page(first + 1, filter=EventFilter(streams=(fresh("none"),)))
        assert nothing.events == [] and nothing.next_position > last, "moved past them all"
        assert store.head() >= last

    def test_a_filtered_subscription_moves_on_past_what_it_skipped(self, store: Store) -> None:
        category = fresh("sub")
        start = store.append(category + "-1", [ev("first")]).first_position
        pages = iter(store.subscribe_pages(start, filter=EventFilter(streams=(category,))))
        page = next(pages)
        assert [e.data for e in page.events] == [b"first"]
        noise = store.append(fresh("noise"), [ev("x")] * SUBSCRIPTION_BATCH)
        store.append(category + "-1", [ev("second")])
        seen: list[bytes] = []
        empty_pages = 0
        while not seen:
            page = next(pages)
            seen += [e.data for e in page.events]
            empty_pages += not page.events
        assert seen == [b"second"]
        assert page.next_position > noise.last_position + 1
        events = iter(store.subscribe(start, filter=EventFilter(streams=(category,))))
        assert [next(events).data, next(events).data] == [b"first", b"second"]
        batches = iter(store.subscribe_batches(start, filter=EventFilter(types=("Nothing",))))
        store.append(category + "-1", [NewEvent("Nothing", b"late")])
        assert [e.data for e in next(batches)] == [b"late"], "batches are never empty"

    @pytest.mark.parametrize(
        ("make", "message"),
        [
            (lambda: EventFilter(streams="orders"), "streams must be a tuple of names, not str"),  # type: ignore[arg-type]
            (lambda: EventFilter(types=("",)), "event type must be 1..256 bytes"),
            (lambda: EventFilter(streams=(1,)), "stream prefix must be a str, not int"),  # type: ignore[arg-type]
            (
                lambda: EventFilter(types=tuple(f"T{n}" for n in range(MAX_FILTER_TERMS + 1))),
                f"types name {MAX_FILTER_TERMS} at most",
            ),
        ],
    )
    def test_a_bad_filter_is_refused_at_once(
        self, store: Store, make: object, message: str
    ) -> None:
        with pytest.raises(InvalidRequest, match=message):
            store.read_all(filter=make())  # type: ignore[operator]
        with pytest.raises(InvalidRequest, match=message):
            store.read_page(filter=make())  # type: ignore[operator]
