"""The client's policy alone, without a node: what each answer means, which address is next,
how long to pause; and the error table both ends read."""

from __future__ import annotations

import random

import pytest

from eventlog.client.policy import (
    Backoff,
    Retry,
    answer,
    attempt_timeout,
    known_addresses,
    next_address,
)
from eventlog.errors import (
    AccessChangeRefused,
    AuthenticationFailed,
    CorruptRecord,
    EventLogError,
    EventTooLarge,
    InvalidRequest,
    InvariantViolation,
    LeaseHeld,
    MembershipError,
    NotLeader,
    Overloaded,
    PermissionDenied,
    StorageFull,
    TrackingConflict,
    Unavailable,
    WrongCluster,
    WrongExpectedVersion,
)
from eventlog.protocol.answers import (
    ERROR_CODES,
    pack_error,
    pack_status,
    unpack_error,
    unpack_status,
)
from eventlog.protocol.requests import new_request
from eventlog.records import ANY, LeaseStatus, NewEvent, NodeStatus
from eventlog.types import NodeId


def test_an_ok_answer_is_its_payload() -> None:
    assert answer("ok", [1, 2], follow_leader=True) == [1, 2]


@pytest.mark.parametrize(
    "error",
    [
        WrongExpectedVersion("s", 1, 2),
        LeaseHeld("p", "worker-1", 1234),
        InvalidRequest("stream name must be 1..1024 bytes"),
        WrongCluster("mine", "theirs"),
    ],
)
def test_a_callers_error_reaches_the_caller_typed_with_its_fields(error: EventLogError) -> None:
    with pytest.raises(type(error)) as raised:
        answer("error", pack_error(error), follow_leader=True)
    assert vars(raised.value) == vars(error) and str(raised.value) == str(error)


def test_not_the_leader_is_followed_to_the_leaders_address_only_when_asked() -> None:
    body = pack_error(NotLeader(NodeId(2), NodeId(1), "127.0.0.1:7001"))
    with pytest.raises(Retry) as followed:
        answer("error", body, follow_leader=True)
    assert followed.value.address == "127.0.0.1:7001"
    with pytest.raises(Retry) as stayed:
        answer("error", body, follow_leader=False)
    assert stayed.value.address is None


@pytest.mark.parametrize(
    "body",
    [
        pack_error(Unavailable("the leader did not confirm the read in time")),
        pack_error(InvariantViolation("a bug")),  # no code of its own: the node cannot serve
        {"code": "from_a_newer_node", "reason": "?"},
        {"code": "wrong_expected_version", "stream": "s"},  # fields missing
        ["not", "a", "map"],
    ],
)
def test_whatever_else_a_node_answers_is_retried(body: object) -> None:
    with pytest.raises(Retry):
        answer("error", body, follow_leader=True)


def test_a_cluster_out_of_room_is_told_to_the_caller_not_retried() -> None:
    with pytest.raises(StorageFull, match="NOSPACE alarm"):
        answer("error", pack_error(StorageFull("NOSPACE alarm: full")), follow_leader=True)


def test_an_overloaded_node_is_tried_again_not_left() -> None:
    with pytest.raises(Retry) as caught:
        answer("error", pack_error(Overloaded("busy")), follow_leader=True)
    assert caught.value.stay and caught.value.address is None


def test_an_unexpected_kind_of_answer_is_retried() -> None:
    with pytest.raises(Retry):
        answer("events", [], follow_leader=True)


def test_every_code_of_the_table_round_trips() -> None:
    samples: dict[type[EventLogError], EventLogError] = {
        NotLeader: NotLeader(NodeId(3), None, None),
        WrongExpectedVersion: WrongExpectedVersion("s", 0, 4),
        LeaseHeld: LeaseHeld("p", "o", 9),
        TrackingConflict: TrackingConflict("saga", 4, 7),
        InvalidRequest: InvalidRequest("bad"),
        EventTooLarge: EventTooLarge(2_000_000, 1_048_576),
        Unavailable: Unavailable("later"),
        WrongCluster: WrongCluster("mine", "theirs"),
        StorageFull: StorageFull("NOSPACE alarm: node 2 holds 9 bytes, its quota is 1"),
        Overloaded: Overloaded("20,000 appends wait for their commit here"),
        MembershipError: MembershipError("learner_behind", "learner 4 is 500 entries behind"),
        AuthenticationFailed: AuthenticationFailed(),
        PermissionDenied: PermissionDenied("ann", "write", "orders-1"),
        AccessChangeRefused: AccessChangeRefused("no_such_role", "no role 'auditor'"),
    }
    assert set(samples) == {code.error for code in ERROR_CODES}
    for error in samples.values():
        decoded = unpack_error(pack_error(error))
        assert type(decoded) is type(error) and vars(decoded) == vars(error)


def test_an_error_without_a_code_travels_as_unavailable_with_its_text() -> None:
    body = pack_error(CorruptRecord("raft_log", 7, "checksum"))
    assert body["code"] == "unavailable" and "raft_log" in body["reason"]


def test_status_round_trips_and_a_malformed_one_is_refused() -> None:
    lease = LeaseStatus(
        name="projection:a",
        owner="w",
        token=3,
        checkpoint=10,
        lag_events=2,
        lag_seconds=0.5,
        expired=False,
    )
    status = NodeStatus(
        id=1,
        role="leader",
        term=4,
        leader=1,
        commit_index=9,
        last_index=9,
        applied_index=9,
        last_position=12,
        digest="ab" * 32,
        leases=(lease,),
    )
    packed = pack_status(status)
    assert packed["leases"][0]["name"] == "projection:a"
    assert unpack_status(packed) == status
    with pytest.raises(CorruptRecord):
        unpack_status({"id": 1})


def test_addresses_are_tried_round_and_round() -> None:
    addresses = ["a:1", "b:2", "c:3"]
    assert next_address(addresses, "a:1") == "b:2"
    assert next_address(addresses, "c:3") == "a:1"
    assert next_address(addresses, "leader:9") == "a:1"  # a redirect to an unlisted node


def test_backoff_doubles_to_its_cap_and_never_passes_the_deadline() -> None:
    backoff = Backoff(random.Random(7))
    bounds = []
    for _ in range(8):
        bounds.append(backoff.bound)
        assert 0.0 <= backoff.pause(remaining=10.0) <= bounds[-1]
    assert bounds[:3] == [0.02, 0.04, 0.08] and bounds[-1] == 0.5
    assert backoff.pause(remaining=0.001) <= 0.001
    assert backoff.pause(remaining=-1.0) == 0.0


def test_an_attempt_gets_a_share_of_the_deadline_when_other_addresses_wait() -> None:
    assert attempt_timeout(9.0, 1) == 9.0
    assert attempt_timeout(9.0, 3) == 3.0
    assert attempt_timeout(2.0, 4) == 1.0  # never less than a second...
    assert attempt_timeout(0.5, 4) == 0.5  # ...nor past the deadline
    assert attempt_timeout(-1.0, 2) == 0.001


def test_a_request_names_what_is_wrong_with_it_and_clips_what_it_echoes() -> None:
    with pytest.raises(InvalidRequest, match="a stream name must be a str, not int"):
        new_request([(123, [NewEvent("E", b"")], ANY)])  # type: ignore[list-item]
    with pytest.raises(InvalidRequest) as long_name:
        new_request([("s" * 2000, [NewEvent("E", b"")], ANY)])
    assert "1..1024 bytes" in str(long_name.value) and len(str(long_name.value)) < 200


def test_the_members_a_node_names_come_first_then_the_rest_given() -> None:
    given = ["b1:1", "c1:1"]
    assert known_addresses(given, ["b1:1", "b2:1", "b3:1"]) == ["b1:1", "b2:1", "b3:1", "c1:1"]
    assert known_addresses(given, ["not an address"]) == given
