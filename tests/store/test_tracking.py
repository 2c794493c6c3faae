"""Tracking records in the state machine and on disk: decided alike by every node within an
apply (a later request of the same entry sees an earlier one's record), refused without a
trace when not beyond what is recorded, kept across a reopen, and checked by ``verify``."""

from __future__ import annotations

from pathlib import Path

import lmdb
import pytest

from eventlog.embedded import open_embedded
from eventlog.errors import CorruptRecord, TrackingConflict
from eventlog.protocol.requests import KIND_APPEND
from eventlog.records import NewEvent, Tracking
from eventlog.state.batch import batch_of
from eventlog.state.memory import MemoryState
from eventlog.store import sealed
from eventlog.store.codecs import Q
from eventlog.store.verify import verify_store
from tests.store import TS, one, rid


def tracked(n: int, name: str, position: int, *streams: str) -> list[object]:
    """Request ``rid(n)``: one event to each stream, with the tracking record."""
    body = [[stream, -1, [["Reacted", b"x", b""]]] for stream in streams]
    return [KIND_APPEND, rid(n), body, [name, position]]


def test_a_later_request_of_the_same_entry_sees_the_record_an_earlier_one_wrote() -> None:
    state = MemoryState()
    [outcomes] = state.apply(
        batch_of(TS, TS, [tracked(1, "saga", 5, "a"), tracked(2, "saga", 5, "b")])
    )
    assert outcomes[0].error is None
    assert isinstance(outcomes[1].error, TrackingConflict)
    assert (state.tracking("saga"), state.stream_version("b"), state.position) == (5, 0, 1)


def test_a_tracking_record_alone_moves_no_position_and_no_digest() -> None:
    state = MemoryState()
    state.apply(batch_of(TS, TS, [one(1, "a", "E").fields()]))
    position, digest = state.position, state.chain
    [[outcome]] = state.apply(batch_of(TS, TS, [tracked(2, "saga", 3)]), first_index=2)
    assert outcome.result is not None and outcome.result.stream_version == 0
    assert (state.position, state.chain, state.tracking("saga")) == (position, digest, 3)


@pytest.mark.parametrize("record", [["saga", "3"], [7, 3]], ids=["position-str", "name-int"])
def test_a_tracking_record_of_the_wrong_kind_in_an_entry_is_corrupt(record: list[object]) -> None:
    state = MemoryState()
    state.apply(batch_of(TS, TS, [tracked(1, "saga", 1)]))
    bad = [KIND_APPEND, rid(2), [], record]
    with pytest.raises(CorruptRecord, match="request 0"):
        state.apply(batch_of(TS, TS, [bad]), first_index=2)


def test_tracking_survives_a_reopen_and_verify_checks_it(tmp_path: Path) -> None:
    with open_embedded(tmp_path) as store:
        store.append("s", [NewEvent("E", b"1")], tracking=Tracking("saga", 11))
        store.append_multi([], tracking=Tracking("other", 4))
    with open_embedded(tmp_path) as store:
        assert (store.max_tracking("saga"), store.max_tracking("other")) == (11, 4)
        with pytest.raises(TrackingConflict):
            store.append("s", [NewEvent("E", b"2")], tracking=Tracking("saga", 11))
    with open_embedded(tmp_path, readonly=True) as reader:
        assert reader.has_tracking("saga", 11) and not reader.has_tracking("saga", 12)
    assert verify_store(tmp_path).problem is None
    env = lmdb.open(str(tmp_path), max_dbs=16)
    with env.begin(write=True) as txn:  # what a bug would write: its checksum holds
        db = env.open_db(b"tracking", txn=txn, create=False)
        txn.put(b"saga", sealed.seal(b"saga", Q.pack(99)), db=db)
    env.close()
    problem = verify_store(tmp_path).problem
    assert problem is not None and "tracking" in problem and "saga" in problem
