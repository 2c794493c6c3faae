"""A filtered read looks at a bounded stretch of the log per call, says where it stopped, and
a read of everything a filter keeps goes on page after page to the head."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlog import EventFilter, NewEvent, open_embedded
from eventlog.store import reads


def test_a_filtered_page_stops_after_its_scan_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reads, "SCAN_POSITIONS", 10)
    with open_embedded(tmp_path / "store") as store:
        store.append("noise", [NewEvent("Noise", b"")] * 25)
        store.append("wanted", [NewEvent("Wanted", b"w")])
        wanted = EventFilter(streams=("wanted",))
        page = store.read_page(1, filter=wanted)
        assert (page.events, page.next_position, page.head, page.at_end) == ([], 11, 26, False)
        page = store.read_page(21, filter=wanted)
        assert [e.position for e in page.events] == [26] and page.at_end
        assert [e.position for e in store.read_all(filter=wanted)] == [26], "paged to the end"
        unfiltered = store.read_page(1, 30)
        assert len(unfiltered.events) == 26 and unfiltered.next_position == 27


def test_a_page_ends_at_the_event_that_fills_its_bytes(tmp_path: Path) -> None:
    with open_embedded(tmp_path / "store") as store:
        store.append("big", [NewEvent("Big", b"x" * 1000)] * 10)
        page = store.storage.read_page(1, None, EventFilter(), 2500)
        assert [e.position for e in page.events] == [1, 2, 3]
        assert page.next_position == 4, "the rest was not looked at"


def test_a_read_from_past_the_head_looks_at_nothing(tmp_path: Path) -> None:
    with open_embedded(tmp_path / "store") as store:
        store.append("a", [NewEvent("A", b"")])
        page = store.read_page(5, filter=EventFilter())
        assert (page.events, page.next_position, page.head, page.at_end) == ([], 5, 1, True)
