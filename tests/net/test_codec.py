"""The wire format alone: frames, Raft messages and the hello, with no sockets (h11's
test_io.py style). A peer's bytes must never raise anything but FrameError."""

from __future__ import annotations

import contextlib
import itertools
import struct
from typing import Any

import attrs
import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog.errors import EventLogError, FrameError, WrongCluster
from eventlog.protocol.frames import FRAME_VERSION, FrameDecoder, encode_frame
from eventlog.protocol.hello import Hello, check_client, check_peer, hello, parse_hello
from eventlog.raft.codec import pack_message, unpack_message
from eventlog.raft.messages import (
    MESSAGE_TYPES,
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
    TransferLeadershipRequest,
)
from eventlog.raft.records import Entry, EntryKind
from eventlog.types import LogIndex, NodeId, Term
from tests.net.helpers import encode_frames, message_tag

HEAD: dict[str, Any] = {"src": NodeId(1), "dst": NodeId(2), "term": Term(7)}

GOLDEN_APPEND = AppendEntries(
    **HEAD,
    prev_log_index=LogIndex(4),
    prev_log_term=Term(2),
    entries=(
        Entry(term=Term(7), index=LogIndex(5), data=b"abc"),
        Entry(term=Term(7), index=LogIndex(6), kind=EntryKind.NOOP),
    ),
    leader_commit=LogIndex(4),
)
GOLDEN_APPEND_FRAME = bytes.fromhex(
    "00000019"  # length: version byte + 24-byte body
    "01"  # frame version
    "98030102070402"  # [3 (AppendEntries), src 1, dst 2, term 7, prev 4, prev term 2, ...
    "92"  # entries: 2 of them
    "94070500c403616263"  # [term 7, index 5, kind NORMAL, b"abc"]
    "94070601c400"  # [term 7, index 6, kind NOOP, b""]
    "04"  # leader_commit 4
)

SAMPLES: list[Message] = [
    RequestVote(
        **HEAD,
        last_log_index=LogIndex(9),
        last_log_term=Term(6),
        pre_vote=True,
        leadership_transfer=True,
    ),
    RequestVote(**HEAD, last_log_index=LogIndex(0), last_log_term=Term(0)),
    RequestVoteResponse(**HEAD, granted=True, pre_vote=True),
    RequestVoteResponse(**HEAD, granted=False),
    GOLDEN_APPEND,
    AppendEntries(
        **HEAD,
        prev_log_index=LogIndex(0),
        prev_log_term=Term(0),
        entries=(),
        leader_commit=LogIndex(0),
    ),
    AppendEntries(
        **HEAD,
        prev_log_index=LogIndex(10),
        prev_log_term=Term(7),
        entries=tuple(
            Entry(term=Term(7), index=LogIndex(11 + i), data=bytes([i]) * i) for i in range(50)
        ),
        leader_commit=LogIndex(12),
    ),
    AppendEntriesResponse(**HEAD, index=LogIndex(12)),
    AppendEntriesResponse(
        **HEAD, index=LogIndex(12), reject=True, hint_index=LogIndex(8), hint_term=Term(3)
    ),
    Heartbeat(**HEAD, commit=LogIndex(3)),
    Heartbeat(**HEAD, commit=LogIndex(3), context=b"\x00\x01"),
    HeartbeatResponse(**HEAD, context=b"ctx"),
    TimeoutNow(**HEAD),
    ReadIndexRequest(**HEAD, context=b"r1"),
    ReadIndexResponse(**HEAD, context=b"r1", index=LogIndex(44)),
    TransferLeadershipRequest(**HEAD, target=NodeId(3)),
]


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` split at the given offsets (taken modulo its length, sorted)."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def decode_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[object]:
    out: list[object] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


# -- Raft messages -----------------------------------------------------------------------------


def test_samples_cover_every_message_type() -> None:
    assert {type(m) for m in SAMPLES} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("m", SAMPLES, ids=lambda m: type(m).__name__)
def test_message_round_trips_through_a_frame(m: Message) -> None:
    bodies = FrameDecoder().feed(encode_frame(pack_message(m)))
    assert len(bodies) == 1
    decoded = unpack_message(bodies[0])
    assert decoded == m
    assert type(decoded) is type(m)


@pytest.mark.parametrize("m", SAMPLES, ids=lambda m: type(m).__name__)
def test_wire_fields_follow_class_order(m: Message) -> None:
    """The codec's field table must track the class: adding a field fails here, not in prod."""
    wire = pack_message(m)
    expected = [getattr(m, f.name) for f in attrs.fields(type(m))]
    if isinstance(m, AppendEntries):
        expected[5] = [[e.term, e.index, e.kind, e.data] for e in m.entries]
    assert wire == [message_tag(type(m)), *expected]


def test_tag_numbers_are_stable() -> None:
    tags = {cls.__name__: message_tag(cls) for cls in MESSAGE_TYPES}
    assert tags == {
        "RequestVote": 1,
        "RequestVoteResponse": 2,
        "AppendEntries": 3,
        "AppendEntriesResponse": 4,
        "Heartbeat": 5,
        "HeartbeatResponse": 6,
        "TimeoutNow": 7,
        "ReadIndexRequest": 8,
        "ReadIndexResponse": 9,
        "TransferLeadershipRequest": 10,
    }


def test_golden_append_entries_frame() -> None:
    """Changing these bytes breaks mixed-version clusters: bump FRAME_VERSION instead."""
    assert encode_frame(pack_message(GOLDEN_APPEND)) == GOLDEN_APPEND_FRAME
    (body,) = FrameDecoder().feed(GOLDEN_APPEND_FRAME)
    assert unpack_message(body) == GOLDEN_APPEND


def test_decoded_entries_are_plain_entries_with_enum_kinds() -> None:
    (body,) = FrameDecoder().feed(GOLDEN_APPEND_FRAME)
    m = unpack_message(body)
    assert isinstance(m, AppendEntries)
    assert [e.kind for e in m.entries] == [EntryKind.NORMAL, EntryKind.NOOP]
    assert all(type(e.kind) is EntryKind and type(e.data) is bytes for e in m.entries)


def _golden_wire() -> list[Any]:
    return pack_message(GOLDEN_APPEND)


BAD_MESSAGES: list[tuple[str, object]] = [
    ("not a list", {"tag": 3}),
    ("empty list", []),
    ("unknown tag", [99, 1, 2, 3]),
    ("tag as string", ["append_entries", 1, 2, 3]),
    ("tag as bool", [True, 1, 2, 3, 4, 5, False, False]),
    ("too few fields", [7, 1, 2]),
    ("too many fields", [7, 1, 2, 3, 4]),
    ("negative term", [7, 1, 2, -1]),
    ("term at the top of its range", [7, 1, 2, 2**64 - 1]),
    ("term past any plausible one", [7, 1, 2, 2**62 + 1]),
    ("sender id past any plausible one", [7, 2**63, 2, 3]),
    ("entry term past any plausible one", [*_golden_wire()[:6], [[2**63, 5, 0, b""]], 4]),
    ("entry index past any plausible one", [*_golden_wire()[:6], [[7, 2**62 + 1, 0, b""]], 4]),
    ("bool for int", [7, 1, True, 3]),
    ("float for int", [7, 1, 2, 3.0]),
    ("int for bool", [2, 1, 2, 3, 1, 0]),
    ("str for bytes", [6, 1, 2, 3, "ctx"]),
    ("entries not a list", [*_golden_wire()[:6], {}, 4]),
    ("entry too short", [*_golden_wire()[:6], [[7, 5, 0]], 4]),
    ("entry as string", [*_golden_wire()[:6], ["abcd"], 4]),
    ("entry bad kind", [*_golden_wire()[:6], [[7, 5, 9, b""]], 4]),
    ("entry bool kind", [*_golden_wire()[:6], [[7, 5, True, b""]], 4]),
    ("entry str data", [*_golden_wire()[:6], [[7, 5, 0, "x"]], 4]),
    ("entry negative index", [*_golden_wire()[:6], [[7, -5, 0, b""]], 4]),
    ("entries not contiguous", [*_golden_wire()[:6], [[7, 5, 0, b""], [7, 7, 0, b""]], 4]),
    ("entries not after prev", [*_golden_wire()[:6], [[7, 9, 0, b""]], 4]),
]


@pytest.mark.parametrize(("case", "raw"), BAD_MESSAGES, ids=[c for c, _ in BAD_MESSAGES])
def test_malformed_message_raises_frame_error(case: str, raw: object) -> None:
    with pytest.raises(FrameError) as info:
        unpack_message(raw)
    assert info.value.reason
    assert isinstance(info.value, EventLogError)


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
)
_values = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=30,
)


@settings(deadline=None)
@given(tag=st.integers(min_value=0, max_value=12), rest=st.lists(_values, max_size=9))
def test_arbitrary_structures_raise_only_frame_error(tag: int, rest: list[object]) -> None:
    try:
        m = unpack_message([tag, *rest])
    except FrameError:
        return
    assert unpack_message(pack_message(m)) == m


# -- hello -------------------------------------------------------------------------------------


def test_hello_round_trips() -> None:
    for body, expected in [
        (hello("c1", "peer", 3), Hello(cluster_id="c1", role="peer", node_id=NodeId(3))),
        (hello("c1", "client", 0), Hello(cluster_id="c1", role="client", node_id=NodeId(0))),
        (hello("", "client", 0), Hello(cluster_id="", role="client", node_id=NodeId(0))),
        (hello("c1", "node", 2), Hello(cluster_id="c1", role="node", node_id=NodeId(2))),
        (hello("", "peer", 2), Hello(cluster_id="", role="peer", node_id=NodeId(2))),
    ]:
        (decoded,) = FrameDecoder().feed(encode_frame(body))
        assert parse_hello(decoded) == expected
    assert hello("c1", "peer", 3) == ["hello", 1, "c1", "peer", 3]


BAD_HELLOS: list[object] = [
    None,
    "hello",
    ["hello", 1, "c1", "peer"],
    ["hello", 1, "c1", "peer", 3, "extra"],
    ["hallo", 1, "c1", "peer", 3],
    ["hello", 2, "c1", "peer", 3],
    ["hello", True, "c1", "peer", 3],
    ["hello", 1, b"c1", "peer", 3],
    ["hello", 1, "c" * 129, "peer", 3],
    ["hello", 1, "c1", "node", 0],
    ["hello", 1, "c1", "admin", 3],
    ["hello", 1, "c1", "peer", 0],
    ["hello", 1, "c1", "peer", "3"],
    ["hello", 1, "c1", "client", 2],
    ["hello", 1, "c1", "client", 0, "ann"],
    ["hello", 1, "c1", "client", 0, {"user": "ann"}],
    ["hello", 1, "c1", "client", 0, {"user": "", "password": "pw"}],
    ["hello", 1, "c1", "client", 0, {"user": "a" * 129, "password": "pw"}],
    ["hello", 1, "c1", "client", 0, {"user": "ann", "password": b"pw"}],
    ["hello", 1, "c1", "client", 0, {"user": "ann", "password": "p" * 1025}],
]


@pytest.mark.parametrize("raw", BAD_HELLOS)
def test_bad_hello_raises_frame_error(raw: object) -> None:
    with pytest.raises(FrameError) as caught:
        parse_hello(raw)
    assert "pw" not in caught.value.reason


def test_a_client_hello_carries_credentials_that_no_repr_shows() -> None:
    body = hello("c1", "client", 0, credentials=("ann", "s3cret"))
    (decoded,) = FrameDecoder().feed(encode_frame(body))
    parsed = parse_hello(decoded)
    assert (parsed.role, parsed.user, parsed.password) == ("client", "ann", "s3cret")
    assert "s3cret" not in repr(parsed)


# -- frames ------------------------------------------------------------------------------------


def test_many_frames_in_one_buffer_and_byte_by_byte() -> None:
    bodies: list[object] = [[1, 2], {"k": b"v"}, "text", None, [], 2**40]
    data = encode_frames(bodies)
    assert data == b"".join(encode_frame(b) for b in bodies)
    assert FrameDecoder().feed(data) == bodies
    decoder = FrameDecoder()
    assert decode_all(decoder, [data[i : i + 1] for i in range(len(data))]) == bodies
    assert decoder.buffered == 0


def test_truncated_frame_yields_nothing_until_completed() -> None:
    frame = encode_frame(["x" * 100])
    decoder = FrameDecoder()
    assert decoder.feed(frame[:2]) == []
    assert decoder.wanted() == 2
    assert decoder.feed(frame[2:50]) == []
    assert decoder.buffered == 50
    assert decoder.feed(frame[50:] + frame[:3]) == [["x" * 100]]
    assert decoder.buffered == 3


def test_oversized_length_rejected_before_the_body_arrives() -> None:
    decoder = FrameDecoder(max_frame_bytes=1024)
    with pytest.raises(FrameError, match="exceeds"):
        decoder.feed(struct.pack(">I", 1025))
    assert decoder.failed is not None
    assert decoder.buffered == 0
    # Exactly at the cap is fine.
    ok = FrameDecoder(max_frame_bytes=len(encode_frame(b"x" * 100)) - 4)
    assert ok.feed(encode_frame(b"x" * 100)) == [b"x" * 100]


def test_default_cap_is_64_mib() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(struct.pack(">I", 64 * 1024 * 1024)) == []
    with pytest.raises(FrameError):
        FrameDecoder().feed(struct.pack(">I", 64 * 1024 * 1024 + 1))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (struct.pack(">I", 0), "zero-length"),
        (struct.pack(">IB", 2, 2) + msgpack.packb(1), "unknown frame version 2"),
        (struct.pack(">IB", 2, 0) + msgpack.packb(1), "unknown frame version 0"),
        (struct.pack(">IB", 2, FRAME_VERSION) + b"\xc1", "not valid msgpack"),
        (struct.pack(">IB", 3, FRAME_VERSION) + b"\x01\x02", "not valid msgpack"),
        (struct.pack(">IB", 2, FRAME_VERSION) + b"\x92", "not valid msgpack"),
        (struct.pack(">IB", 4, FRAME_VERSION) + b"\xa2\xff\xfe", "not valid msgpack"),
        (struct.pack(">IB", 4, FRAME_VERSION) + b"\x81\x01\x02", "not valid msgpack"),
        (struct.pack(">IB", 4, FRAME_VERSION) + b"\xd4\x05\x00", "not valid msgpack"),
    ],
    ids=[
        "zero",
        "version2",
        "version0",
        "reserved",
        "extra",
        "short",
        "utf8",
        "intkey",
        "ext",
    ],
)
def test_bad_frames_fail_and_stay_failed(data: bytes, reason: str) -> None:
    decoder = FrameDecoder()
    good = encode_frame("fine")
    with pytest.raises(FrameError, match=reason):
        decoder.feed(good + data)
    with pytest.raises(FrameError, match=reason):
        decoder.feed(good)


def test_encode_frame_never_pickles_and_rejects_unknown_objects() -> None:
    with pytest.raises(TypeError):
        encode_frame(object())


@settings(deadline=None)
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_random_bytes_raise_only_frame_error(data: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder(max_frame_bytes=512)
    try:
        for chunk in chunked(data, cuts):
            for body in decoder.feed(chunk):
                with contextlib.suppress(FrameError):
                    unpack_message(body)
    except FrameError:
        assert decoder.failed is not None


@settings(deadline=None)
@given(
    bodies=st.lists(_values, max_size=6),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
)
def test_valid_frames_survive_any_chunking(bodies: list[object], cuts: list[int]) -> None:
    data = encode_frames(bodies)
    decoded = decode_all(FrameDecoder(), chunked(data, cuts))
    assert decoded == [msgpack.unpackb(msgpack.packb(b), raw=False) for b in bodies]


@settings(deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(GOLDEN_APPEND_FRAME) - 1),
    byte=st.integers(min_value=0, max_value=255),
    cuts=st.lists(st.integers(min_value=0), max_size=4),
)
def test_corrupted_append_frame_raises_only_frame_error(
    position: int, byte: int, cuts: list[int]
) -> None:
    data = bytearray(GOLDEN_APPEND_FRAME * 2)
    data[position] = byte
    decoder = FrameDecoder(max_frame_bytes=4096)
    try:
        for body in decode_all(decoder, chunked(bytes(data), cuts)):
            unpack_message(body)
    except FrameError:
        pass


def test_a_cluster_that_is_named_hears_only_its_own_peers_and_clients() -> None:
    def peer(cluster_id: str) -> Hello:
        return Hello(cluster_id=cluster_id, role="peer", node_id=NodeId(2))

    def client(cluster_id: str) -> Hello:
        return Hello(cluster_id=cluster_id, role="client", node_id=NodeId(0))

    check_peer(peer("b"), "b")
    check_peer(peer(""), "b")  # a fresh node, to be named by the log
    check_peer(peer("c"), "")  # this node is not named yet
    with pytest.raises(FrameError, match="'c' is not ours"):
        check_peer(peer("c"), "b")
    check_client(client(""), "b")  # it learns the id from the node's hello
    check_client(client("b"), "b")
    with pytest.raises(WrongCluster) as wrong:
        check_client(client("c"), "b")
    assert (wrong.value.expected, wrong.value.actual) == ("c", "b")
