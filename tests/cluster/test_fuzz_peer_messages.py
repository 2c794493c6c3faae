"""Every peer message is checked before it touches the core: frames that claim to come from a
peer, of every message type, with values of the wrong type and out of range (negative, huge,
floats, text, nested garbage, entries that do not follow each other), close their connection
at once; the node stays up and its term, log and leader are the same afterwards. Messages of
a past term that are well formed are taken and ignored, the connection kept.

And one value a codec cannot judge: a response acknowledging entries the leader never had."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlog import NewEvent
from eventlog.protocol.frames import encode_frame
from eventlog.protocol.hello import hello
from eventraft.localcluster import LocalCluster
from tests.cluster.harness import local_cluster, wait_for

CLOSE_SECONDS = 5.0
"""A refused frame closes its connection at once; this bound only keeps a hung node from
hanging the test."""
KEPT_SECONDS = 0.1
"""How long a connection that carried a well-formed message is watched for a wrong close."""
TARGET, CLAIMED = 1, 2
"""The node fuzzed, and the peer its fuzzer claims to be."""

# The wire format, written down here on its own: [tag, src, dst, term, *fields].
UINT, BOOL, BYTES, ENTRIES = "uint", "bool", "bytes", "entries"
KINDS = (0, 1, 2)
"""Entry kinds: normal, no-op, configuration."""
FIELDS: dict[int, list[str]] = {
    1: [UINT, UINT, BOOL, BOOL],  # RequestVote: last_log_index, last_log_term, pre_vote, transfer
    2: [BOOL, BOOL],  # RequestVoteResponse: granted, pre_vote
    3: [UINT, UINT, ENTRIES, UINT],  # AppendEntries: prev_index, prev_term, entries, commit
    4: [UINT, BOOL, UINT, UINT],  # AppendEntriesResponse: index, reject, hint_index, hint_term
    5: [UINT, BYTES],  # Heartbeat: commit, context
    6: [BYTES],  # HeartbeatResponse: context
    7: [],  # TimeoutNow
    8: [BYTES],  # ReadIndexRequest: context
    9: [BYTES, UINT],  # ReadIndexResponse: context, index
    10: [UINT],  # TransferLeadershipRequest: target
}

NASTY: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=-1),
    st.sampled_from([2**62 + 1, 2**63 - 1, 2**63, 2**64 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.lists(st.integers(min_value=0, max_value=9), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
"""Values no field of any message may hold (bytes and booleans are some fields' own kinds)."""


@st.composite
def entries(draw: st.DrawFn, prev_index: int) -> list[Any]:
    """Well-formed entries following ``prev_index``, or entries broken in one place."""
    count = draw(st.integers(min_value=0, max_value=3))
    items: list[Any] = [[0, prev_index + 1 + n, 1, b"x"] for n in range(count)]
    if items and draw(st.booleans()):
        slot, place = draw(st.integers(0, count - 1)), draw(st.integers(0, 4))
        if place == 4:
            items[slot] = draw(NASTY)  # not an entry at all
        elif place == 1:
            items[slot][1] += draw(st.sampled_from([1, 2, -1]))  # not the next index
        else:
            items[slot][place] = draw(NASTY)
    return items


@st.composite
def peer_frames(draw: st.DrawFn) -> tuple[Any, bool]:
    """A body and whether a node must take it: every field of the right kind, from the peer
    the connection claims, to the node it reached, in a past term (so the node ignores it)."""
    if draw(st.integers(0, 9)) == 0:  # not a message at all
        return draw(st.one_of(NASTY, st.binary(max_size=8), st.lists(NASTY, max_size=4))), False
    tag = draw(st.sampled_from([*FIELDS, 0, 11, 99]))
    kinds = FIELDS.get(tag)
    if kinds is None:
        return [tag, CLAIMED, TARGET, 0], False
    good = True

    def field(valid: Any) -> Any:
        nonlocal good
        if draw(st.integers(0, 3)) == 0:
            good = False
            return draw(NASTY)
        return valid

    body: list[Any] = [tag]
    body.append(field(draw(st.sampled_from([CLAIMED, CLAIMED, CLAIMED, 3, 7]))))
    body.append(field(draw(st.sampled_from([TARGET, TARGET, TARGET, 2, 9]))))
    body.append(field(0))
    good = good and body[1:3] == [CLAIMED, TARGET]
    for kind in kinds:
        if kind == UINT:
            body.append(field(draw(st.integers(0, 1000))))
        elif kind == BOOL:
            body.append(field(draw(st.booleans())))
        elif kind == BYTES:
            body.append(field(draw(st.binary(max_size=16))))
        else:
            prev = body[4] if type(body[4]) is int and body[4] >= 0 else 0
            items = draw(entries(prev))
            sound = all(type(i) is list and len(i) == 4 for i in items) and all(
                i[1] == prev + 1 + n
                and all(type(v) is int and 0 <= v <= 2**62 for v in i[:3])
                and i[2] in KINDS
                and type(i[3]) is bytes
                for n, i in enumerate(items)
            )
            good = good and sound and type(body[4]) is int and body[4] >= 0
            body.append(field(items))
    if draw(st.integers(0, 9)) == 0:  # one field too many or too few
        good = False
        body = body[:-1] if draw(st.booleans()) and len(body) > 4 else [*body, 0]
    return body, good


class Peer:
    """A connection that says hello as peer ``CLAIMED`` of the cluster, then sends frames."""

    def __init__(self, port: int, cluster_id: str) -> None:
        self.port, self.cluster_id = port, cluster_id
        self.sock: socket.socket | None = None

    def write(self, body: Any, claimed: int = CLAIMED) -> None:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=CLOSE_SECONDS)
            self.sock.sendall(encode_frame(hello(self.cluster_id, "peer", claimed)))
        self.sock.sendall(encode_frame(body))

    def send(self, body: Any) -> bool:
        """Send one frame; True if the connection is still open afterwards."""
        self.write(body)
        return self.still_open(KEPT_SECONDS)

    def refused(self, body: Any) -> bool:
        """Send one frame and wait for the node to close the connection."""
        self.write(body)
        return not self.still_open(CLOSE_SECONDS)

    def still_open(self, seconds: float) -> bool:
        assert self.sock is not None
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(1)
        except TimeoutError:
            return True
        except ConnectionResetError:
            data = b""
        assert data == b"", "a node never writes on a connection its peer dialled"
        self.close()
        return False

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def marks(cluster: LocalCluster) -> dict[int, tuple[int, int, int, str, int]]:
    return {
        node: (s.term, s.commit_index, s.last_index, s.digest, s.leader)
        for node, s in cluster.statuses().items()
    }


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Peer]]:
    with local_cluster(Path(tmp_path_factory.mktemp("peerfuzz")), size=3) as cluster:
        cluster.leader(timeout=20)
        with cluster.client() as client:
            client.append("fuzzed", [NewEvent("E", b"{}")])
        cluster.wait_converged()
        peer = Peer(cluster.nodes[TARGET].port, cluster.status(TARGET).cluster_id)
        try:
            yield cluster, peer
        finally:
            peer.close()


@pytest.fixture(scope="module")
def before(fuzzed: tuple[LocalCluster, Peer]) -> dict[int, tuple[int, int, int, str, int]]:
    return marks(fuzzed[0])


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frame=peer_frames())
def test_every_malformed_peer_message_closes_its_connection_at_once(
    fuzzed: tuple[LocalCluster, Peer],
    before: dict[int, tuple[int, int, int, str, int]],
    frame: tuple[Any, bool],
) -> None:
    _, peer = fuzzed
    body, good = frame
    try:
        msgpack.packb(body)
    except (OverflowError, TypeError, ValueError):
        return  # not a frame anyone can send
    if good:
        assert peer.send(body), f"a well-formed message of a past term closed it: {body!r}"
    else:
        assert peer.refused(body), f"the node took {body!r}"


def test_the_cluster_is_the_same_after_the_fuzzing(
    fuzzed: tuple[LocalCluster, Peer], before: dict[int, tuple[int, int, int, str, int]]
) -> None:
    cluster, _ = fuzzed
    assert all(node.running for node in cluster.nodes.values())
    assert marks(cluster) == before
    with cluster.client() as client:
        client.append("fuzzed", [NewEvent("E", b"after")])


def test_an_acknowledgement_of_entries_the_leader_never_had_is_ignored(
    fuzzed: tuple[LocalCluster, Peer],
) -> None:
    cluster, _ = fuzzed
    leader = cluster.leader(timeout=20)
    follower = next(node for node in cluster.nodes if node != leader)
    status = cluster.status(leader)
    forged = Peer(cluster.nodes[leader].port, status.cluster_id)
    forged_body = [4, follower, leader, status.term, status.last_index + 10**6, False, 0, 0]
    try:
        forged.write(forged_body, claimed=follower)
        forged.still_open(KEPT_SECONDS)
    finally:
        forged.close()
    with cluster.client() as client:  # the leader still leads and replicates
        client.append("fuzzed", [NewEvent("E", b"after a forged acknowledgement")])
    after = cluster.status(leader)
    assert (after.role, after.term) == ("leader", status.term)
    assert after.commit_index <= after.last_index
    wait_for(lambda: cluster.wait_converged(), 20, "the followers to catch up")
