"""A request is encoded once, by its client: the node checks the bytes it came in and lays
them into the Raft entry as they are, and the entry is the same bytes as if it were encoded
whole."""

from __future__ import annotations

import msgpack
import pytest

from eventlog.errors import InvalidRequest
from eventlog.protocol.requests import check_client_request, encode, new_request
from eventlog.records import ANY, NewEvent
from eventlog.state.batch import decode_batch, encode_batch
from eventlog.state.memory import MemoryState

TS = 1_700_000_000_000


def _requests(count: int) -> list[list[object]]:
    return [
        new_request(
            [(f"order-{n}", [NewEvent("Placed", b"x" * n, b"{}")] * (1 + n % 3), ANY)]
        ).fields
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [0, 1, 15, 16, 300, 70_000])
def test_a_batch_of_encoded_requests_is_the_batch_encoded_whole(count: int) -> None:
    requests = _requests(min(count, 20)) * (count // 20 + 1)
    requests = requests[:count]
    whole = msgpack.packb([2, TS, 7, requests], use_bin_type=True)
    assert encode_batch(TS, 7, [encode(request) for request in requests]) == whole
    assert decode_batch(whole).requests == requests


def test_the_node_keeps_the_bytes_a_client_sent_and_applies_them_as_sent() -> None:
    sent = new_request([("order-1", [NewEvent("Placed", b"one")], ANY)])
    taken = check_client_request(sent.encoded)
    assert taken.encoded is sent.encoded
    assert taken.fields == sent.fields and taken.size == sent.size
    state = MemoryState()
    [[outcome]] = state.apply(encode_batch(TS, TS, [taken.encoded]))
    assert outcome.error is None and state.position == 1


@pytest.mark.parametrize(
    ("encoded", "named"),
    [
        (b"\xc1", "does not decode"),
        (encode([1, b"r" * 16, []]) + b"\x00", "does not decode"),  # trailing bytes
        (msgpack.packb({"kind": 1}), r"a request is \[kind, request_id, body\]"),
        (msgpack.packb([1, b"r" * 16, [["s", -1, [["T", "text", b""]]]]]), "must be bytes"),
    ],
)
def test_bytes_that_are_no_request_are_refused_naming_what_is_wrong(
    encoded: bytes, named: str
) -> None:
    with pytest.raises(InvalidRequest, match=named):
        check_client_request(encoded)
