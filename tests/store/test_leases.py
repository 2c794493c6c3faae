"""Leases on the replicated log: grant, renew, expiry by the cluster clock, fencing tokens,
release, and what survives a restart."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from eventlog.errors import CorruptRecord, InvalidRequest, LeaseHeld
from eventlog.protocol import requests
from eventlog.raft.records import Entry
from eventlog.records import LeaseGrant
from eventlog.state.memory import MemoryState
from eventlog.state.outcomes import Outcome
from eventlog.store.codecs import decode_lease, encode_lease
from eventlog.store.storage import LmdbStorage
from eventlog.types import LogIndex, Term
from tests.store import TS, lease, one, raw_batch, release, rid


def grant_of(outcome: Outcome) -> LeaseGrant:
    assert isinstance(outcome.result, LeaseGrant), outcome
    return outcome.result


def test_a_lease_is_granted_renewed_and_refused_to_others_until_it_expires() -> None:
    state = MemoryState()
    [[first]] = state.apply(raw_batch(lease(1, "p", "a", ttl_ms=1000), ts=TS))
    assert grant_of(first) == LeaseGrant(name="p", owner="a", token=1, expires_ms=TS + 1000)
    [[other]] = state.apply(raw_batch(lease(2, "p", "b"), ts=TS + 999), first_index=2)
    assert isinstance(other.error, LeaseHeld)
    assert (other.error.name, other.error.owner, other.error.expires_ms) == ("p", "a", TS + 1000)
    [[renewed]] = state.apply(raw_batch(lease(3, "p", "a", value=42), ts=TS + 999), first_index=3)
    assert grant_of(renewed) == LeaseGrant(
        name="p", owner="a", token=1, expires_ms=TS + 1999, checkpoint=42
    )
    [[taken]] = state.apply(raw_batch(lease(4, "p", "b"), ts=TS + 1999), first_index=4)
    assert (grant_of(taken).owner, grant_of(taken).token) == ("b", 2)
    [[late]] = state.apply(raw_batch(lease(5, "p", "a"), ts=TS + 2000), first_index=5)
    assert isinstance(late.error, LeaseHeld) and late.error.owner == "b"


def test_tokens_grow_across_names_and_a_release_hands_over_at_once() -> None:
    state = MemoryState()
    [[p, q]] = state.apply(raw_batch(lease(1, "p", "a"), lease(2, "q", "a")))
    assert (grant_of(p).token, grant_of(q).token) == (1, 2)
    [[_, held]] = state.apply(
        raw_batch(release(3, "p", "a", token=2), lease(4, "p", "b")), first_index=2
    )
    assert isinstance(held.error, LeaseHeld), "a release with another token changes nothing"
    [[released, taken]] = state.apply(
        raw_batch(release(5, "p", "a", token=1), lease(6, "p", "b")), first_index=3
    )
    assert grant_of(released).expires_ms == TS
    assert (grant_of(taken).owner, grant_of(taken).token) == ("b", 3)
    assert state.lease("p") == grant_of(taken), "a new grant is not released"
    assert state.lease("q") is not None and state.lease_counter == 3


def test_a_released_lease_stays_on_record_expired_with_its_checkpoint() -> None:
    state = MemoryState()
    state.apply(raw_batch(lease(1, "p", "a", ttl_ms=1000, value=7)))
    state.apply(raw_batch(release(2, "p", "a", token=1), ts=TS + 10), first_index=2)
    assert state.lease("p") == LeaseGrant(
        name="p", owner="a", token=1, expires_ms=TS + 10, checkpoint=7, released=True
    )
    state.apply(raw_batch(release(3, "p", "a", token=1), ts=TS + 20), first_index=3)
    again_released = state.lease("p")
    assert again_released is not None and again_released.expires_ms == TS + 10
    [[again]] = state.apply(raw_batch(lease(4, "p", "a"), ts=TS + 30), first_index=4)
    assert (grant_of(again).token, grant_of(again).released) == (2, False)


def test_a_holder_whose_lease_ran_out_still_marks_it_released() -> None:
    state = MemoryState()
    state.apply(raw_batch(lease(1, "p", "a", ttl_ms=1000, value=3)))
    state.apply(raw_batch(release(2, "p", "a", token=1), ts=TS + 5000), first_index=2)
    assert state.lease("p") == LeaseGrant(
        name="p", owner="a", token=1, expires_ms=TS + 1000, checkpoint=3, released=True
    )


def test_a_lease_stored_before_releases_were_kept_still_reads() -> None:
    old = msgpack.packb(["a", 3, TS, 9])
    assert decode_lease(b"p", old) == LeaseGrant(
        name="p", owner="a", token=3, expires_ms=TS, checkpoint=9
    )
    grant = LeaseGrant(name="p", owner="a", token=3, expires_ms=TS, released=True)
    assert decode_lease(b"p", encode_lease(grant)) == grant
    with pytest.raises(CorruptRecord):
        decode_lease(b"p", msgpack.packb(["a", 3, TS, 9, "yes"]))


def test_a_retried_lease_request_gets_its_first_grant() -> None:
    state = MemoryState()
    [[first]] = state.apply(raw_batch(lease(1, "p", "a", ttl_ms=1000), ts=TS))
    [[again]] = state.apply(raw_batch(lease(1, "p", "a", ttl_ms=1000), ts=TS + 500), first_index=2)
    assert again == first and grant_of(again).expires_ms == TS + 1000


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(request_id=rid(1), result=LeaseGrant(name="p", owner="a", token=3, expires_ms=9)),
        Outcome(request_id=rid(2), error=LeaseHeld("p", "b", 12), applied_ms=7),
    ],
)
def test_lease_outcomes_round_trip_through_the_requests_table(outcome: Outcome) -> None:
    decoded = Outcome.from_record(outcome.to_record())
    assert decoded == outcome and decoded.applied_ms == outcome.applied_ms


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([9, "p", "a", 1000, 0], "unknown lease operation"),
        ([requests.LEASE_ACQUIRE, "", "a", 1000, 0], "lease name"),
        ([requests.LEASE_ACQUIRE, "p", "x" * 300, 1000, 0], "lease owner"),
        ([requests.LEASE_ACQUIRE, "p", "a", 0, 0], "lease ttl"),
        ([requests.LEASE_ACQUIRE, "p", "a", 1000, -1], "checkpoint or token"),
        ([requests.LEASE_ACQUIRE, "p", "a"], "a lease request is"),
    ],
)
def test_a_malformed_lease_request_is_refused_by_name(body: list[object], reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        requests.check_request([requests.KIND_LEASE, rid(1), body])


def test_leases_and_the_token_counter_survive_a_restart(tmp_path: Path) -> None:
    def write(store: LmdbStorage, index: int, *requests: list[object], ts: int) -> list[Outcome]:
        entry = Entry(term=Term(1), index=LogIndex(index), data=raw_batch(*requests, ts=ts))
        [(_, outcomes)] = store.write_ready(None, [entry], [entry])
        return outcomes

    with LmdbStorage.open(tmp_path, cluster_id="c", node_id=1) as store:
        write(store, 1, lease(1, "p", "a", ttl_ms=1000, value=5), ts=TS)
        write(store, 2, lease(2, "q", "a"), release(3, "q", "a", token=2), ts=TS)
        listed = [
            LeaseGrant(name="p", owner="a", token=1, expires_ms=TS + 1000, checkpoint=5),
            LeaseGrant(name="q", owner="a", token=2, expires_ms=TS, released=True),
        ]
        assert store.leases() == listed
    with LmdbStorage.open(tmp_path, cluster_id="c", node_id=1) as store:
        assert store.leases() == listed
        [held] = write(store, 3, lease(4, "p", "b"), ts=TS + 10)
        assert isinstance(held.error, LeaseHeld)
        [taken] = write(store, 4, lease(5, "p", "b"), ts=TS + 1000)
        assert grant_of(taken).token == 3


def test_events_batched_with_lease_requests_read_back(tmp_path: Path) -> None:
    data = raw_batch(lease(1, "p", "a"), one(2, "s", "E1", "E2").fields(), lease(3, "q", "b"))
    entry = Entry(term=Term(1), index=LogIndex(1), data=data)
    with LmdbStorage.open(tmp_path, cluster_id="c", node_id=1) as store:
        store.write_ready(None, [entry], [entry])
        assert [(e.position, e.type) for e in store.read_all()] == [(1, "E1"), (2, "E2")]
        assert [e.version for e in store.read_stream("s")] == [1, 2]
        assert [e.version for e in store.read_stream_backwards("s")] == [2, 1]
