"""A save may carry a consumer's tracking record and raw appends: all of it lands in one
atomic append, or none of it does."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregates import Repository
from eventlog import NO_STREAM, NewEvent, Tracking, TrackingConflict, open_embedded
from examples.bank import Account


def test_a_save_with_a_tracking_record_and_raw_events_is_one_append(tmp_path: Path) -> None:
    with open_embedded(tmp_path / "store") as store:
        repository = Repository(store)
        account = Account.open("ann")
        account.deposit(5)
        notice = [("notices", [NewEvent("Opened", b"ann")], NO_STREAM)]
        saved = repository.save(account, tracking=Tracking("mailer", 7), appends=notice)
        assert store.max_tracking("mailer") == 7
        assert [e.position for e in store.read_all()] == [1, 2, 3]
        assert saved.last_position == 3 and not account.pending_events

        account.deposit(1)
        with pytest.raises(TrackingConflict):
            repository.save(account, tracking=Tracking("mailer", 7), appends=notice)
        assert store.head() == 3, "nothing of it written"
        assert account.pending_events, "still to save"

        alone = repository.save(tracking=Tracking("mailer", 9))
        assert store.max_tracking("mailer") == 9 and store.head() == 3
        assert alone.first_position > alone.last_position, "no events"


def test_saves_of_the_record_alone_are_separate_requests(tmp_path: Path) -> None:
    with open_embedded(tmp_path / "store") as store:
        repository = Repository(store)
        repository.save(tracking=Tracking("a", 1))
        with pytest.raises(TrackingConflict):
            repository.save(tracking=Tracking("a", 1))  # refused, not taken for a retry
