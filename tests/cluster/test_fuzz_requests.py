"""Every request a node can decode gets an answer: well-framed calls of every operation, with
values of the wrong type and out of range (infinite, negative, huge, empty, binary), each get
a result or a typed error, at once, or their connection is closed; the node stays up, and its
log and its leader are the same afterwards."""

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
from eventlog.protocol.frames import FrameDecoder, encode_frame
from eventlog.protocol.hello import hello
from eventraft.localcluster import LocalCluster
from tests.cluster.harness import local_cluster

ANSWER_SECONDS = 5.0
"""An answer comes at once; this bound only keeps a hung node from hanging the test."""
SUBSCRIPTION_QUIET = 0.3
"""How long a subscription with nothing to send yet may stay silent here."""

NASTY: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from([0, -1, 1, 2**31, 2**53, 2**63 - 1, 2**63, 2**64 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "\x00", "$all", "x" * 2000, "é" * 600]),
    st.binary(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
FIELDS = [
    "from_position",
    "limit",
    "stream",
    "from_version",
    "min_position",
    "linearizable",
    "request",
    "requests",
]
OPS = [
    "read_all",
    "read_stream",
    "read_stream_backwards",
    "subscribe",
    "status",
    "leases",
    "append",
    "lease",
    "append_batch",
    "no_such_op",
]


def request_like() -> st.SearchStrategy[Any]:
    """Requests shaped like an append or a lease, with nasty values in their places."""
    event = st.lists(NASTY, min_size=3, max_size=3)
    append = st.tuples(NASTY, NASTY, st.lists(event, max_size=2)).map(list)
    return st.one_of(
        NASTY,
        st.tuples(st.sampled_from([1, 2, 3, 99]), st.binary(min_size=16, max_size=16), NASTY).map(
            list
        ),
        st.tuples(
            st.just(1), st.binary(min_size=16, max_size=16), st.lists(append, max_size=2)
        ).map(list),
        st.tuples(
            st.just(2), st.binary(min_size=16, max_size=16), st.lists(NASTY, min_size=5, max_size=5)
        ).map(list),
    )


CALLS = st.tuples(
    st.sampled_from(OPS),
    st.dictionaries(
        st.sampled_from(FIELDS),
        st.one_of(NASTY, request_like(), st.lists(request_like(), max_size=3)),
        max_size=4,
    ),
)


class Caller:
    """One raw client connection to one node; it says hello and then sends calls."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.decoder = FrameDecoder()
        self.call_id = 0

    def _open(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=ANSWER_SECONDS)
            self.decoder = FrameDecoder()
            self.sock.sendall(encode_frame(hello("", "client", 0)))
            assert self._frame() is not None, "the node answers a client's hello"
        return self.sock

    def _frame(self) -> Any:
        assert self.sock is not None
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except ConnectionResetError:
                return None
            if not data:
                return None
            frames = self.decoder.feed(data)
            if frames:
                return frames[0]

    def call(self, op: str, args: dict[str, Any]) -> Any:
        """The node's answer to the call, or None if it closed the connection."""
        sock = self._open()
        self.call_id += 1
        sock.sendall(encode_frame([self.call_id, op, args]))
        # A subscription from a position not reached yet is accepted and says nothing until
        # events come; any other call must be answered.
        sock.settimeout(SUBSCRIPTION_QUIET if op == "subscribe" else ANSWER_SECONDS)
        while True:
            try:
                frame = self._frame()
            except TimeoutError:
                if op != "subscribe":
                    raise  # no answer: the failure this test is for
                self.close()
                return ["quiet", "events", None]
            if frame is None:
                self.close()
                return None
            if frame[0] == self.call_id:
                return frame  # an answer, or a subscription's first events

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


@pytest.fixture(scope="module")
def one_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Caller]]:
    with local_cluster(Path(tmp_path_factory.mktemp("fuzz")), size=1) as cluster:
        cluster.leader(timeout=20)
        with cluster.client() as client:  # so that a subscription answers with events at once
            client.append("fuzzed", [NewEvent("E", b"{}")])
        caller = Caller(cluster.nodes[1].port)
        try:
            yield cluster, caller
        finally:
            caller.close()


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(call=CALLS)
def test_every_decodable_call_is_answered_at_once(
    one_node: tuple[LocalCluster, Caller], call: tuple[str, dict[str, Any]]
) -> None:
    _, caller = one_node
    op, args = call
    try:
        msgpack.packb(args)
    except (OverflowError, TypeError, ValueError):
        return  # not a frame anyone can send
    answer = caller.call(op, args)
    if answer is not None:
        assert answer[1] in ("ok", "error", "events"), answer
    if op == "subscribe":
        caller.close()  # a subscription that took goes on pushing events


def test_the_node_is_the_same_after_the_fuzzing(one_node: tuple[LocalCluster, Caller]) -> None:
    cluster, _ = one_node
    assert cluster.nodes[1].process is not None and cluster.nodes[1].process.poll() is None
    status = cluster.status(1)
    assert status.role == "leader"
    with cluster.client() as client:  # nothing a fuzzed call left behind poisons a later call
        client.append("fuzzed", [NewEvent("E", b"{}")])
        assert client.read_all()[0].stream == "fuzzed"
        client.leases()
        client.status()


@pytest.mark.parametrize(
    ("op", "args"),
    [
        ("read_all", {"from_position": 2**64 - 1}),
        ("read_stream", {"stream": "s", "from_version": 2**63}),
        ("read_all", {"min_position": 2**64 - 1}),
        ("lease", {"request": [2, bytes(16), [1, "p", "w", 1000, 2**64 - 1]]}),
        ("append", {"request": [1, bytes(16), [["s", 2**64 - 1, [["E", b"", b""]]]]]}),
        ("read_all", {"min_position": 10**9}),
    ],
)
def test_numbers_past_what_a_store_holds_are_refused_or_bounded(
    one_node: tuple[LocalCluster, Caller], op: str, args: dict[str, Any]
) -> None:
    _, caller = one_node
    answer = caller.call(op, args)
    assert answer is not None and answer[1] == "error", answer
    assert answer[2]["code"] in ("invalid", "unavailable"), answer
