"""A request is encoded once, by its client: the node checks the bytes it came in and lays
them into the Raft entry as they are, and the entry is the same bytes as if it were encoded
whole. A read cuts the requests it needs out of the entry by the batch's spans and decodes
only those."""

from __future__ import annotations

import struct
from pathlib import Path

import msgpack
import pytest

from eventlog.errors import CorruptRecord, InvalidRequest
from eventlog.protocol.requests import check_client_request, encode, new_request
from eventlog.raft.records import Entry
from eventlog.records import ANY, NewEvent
from eventlog.state.batch import Spans, batch_of, decode_batch, encode_batch
from eventlog.state.memory import MemoryState
from eventlog.store import reads
from eventlog.types import LogIndex, Term
from tests.store import lease, open_store, persist_and_apply

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
    encoded = [encode(request) for request in requests]
    counts = [sum(len(e) for _, _, e in request[2]) for request in requests]  # type: ignore[misc]
    spans = b"".join(struct.pack(">II", len(e), n) for e, n in zip(encoded, counts, strict=True))
    whole = msgpack.packb([3, TS, 7, spans, requests], use_bin_type=True)
    assert encode_batch(TS, 7, encoded, counts) == whole
    assert decode_batch(whole).requests == requests
    assert decode_batch(whole).event_counts() == counts


def test_the_node_keeps_the_bytes_a_client_sent_and_applies_them_as_sent() -> None:
    sent = new_request([("order-1", [NewEvent("Placed", b"one")], ANY)])
    taken = check_client_request(sent.encoded)
    assert taken.encoded is sent.encoded
    assert taken.fields == sent.fields and taken.size == sent.size
    state = MemoryState()
    [[outcome]] = state.apply(encode_batch(TS, TS, [taken.encoded], [taken.events]))
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


def _big_entry(index: int, requests: int) -> Entry:
    """An entry of ``requests`` appends, one to each of streams ``s-0``..., with a lease
    request among them (it holds no event)."""
    fields: list[list[object]] = [
        new_request([(f"s-{n}", [NewEvent("T", f"{n}".encode())] * (1 + n % 2), ANY)]).fields
        for n in range(requests)
    ]
    fields.insert(3, lease(9, "worker", "me"))
    return Entry(term=Term(1), index=LogIndex(index), data=batch_of(TS, TS, fields))


def test_a_read_of_a_few_events_decodes_only_their_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "s")
    try:
        persist_and_apply(store, _big_entry(1, 500))

        def whole(data: bytes) -> None:
            raise AssertionError("decoded the whole entry")

        monkeypatch.setattr(reads, "decode_batch", whole)
        [event] = store.read_stream("s-250")
        assert (event.stream, event.data, event.version) == ("s-250", b"250", 1)
        assert [e.data for e in store.read_stream("s-7")] == [b"7", b"7"]
        assert [e.version for e in store.read_stream_backwards("s-499")] == [2, 1]
        assert [e.stream for e in store.read_all(from_position=3, limit=1)] == ["s-1"]
    finally:
        store.close()


def test_a_read_of_most_of_an_entry_decodes_it_once_and_gives_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "s")
    try:
        persist_and_apply(store, _big_entry(1, 40))
        sliced: list[int] = []
        events = Spans.events
        monkeypatch.setattr(Spans, "events", lambda s, r: sliced.append(r) or events(s, r))
        everything = store.read_all()
        assert [e.position for e in everything] == list(range(1, 61))
        assert [e.stream for e in everything[:4]] == ["s-0", "s-1", "s-1", "s-2"]
        assert sliced == []
    finally:
        store.close()


def test_entries_written_before_spans_still_read(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s")
    try:
        requests = [
            new_request([(f"s-{n}", [NewEvent("T", f"{n}".encode())], ANY)]).fields
            for n in range(10)
        ]
        data = msgpack.packb([2, TS, TS, requests], use_bin_type=True)
        persist_and_apply(store, Entry(term=Term(1), index=LogIndex(1), data=data))
        assert [e.data for e in store.read_stream("s-4")] == [b"4"]
    finally:
        store.close()


def test_spans_that_do_not_match_their_requests_are_refused() -> None:
    requests = [new_request([(f"s-{n}", [NewEvent("T", b"x")], ANY)]).fields for n in range(3)]
    encoded = [encode(request) for request in requests]
    wrong_counts = encode_batch(TS, TS, encoded, [1, 2, 1])
    with pytest.raises(CorruptRecord):
        MemoryState().apply(wrong_counts)
    spans = Spans.read(wrong_counts)
    assert spans is not None
    with pytest.raises(CorruptRecord):
        spans.events(1)
    # Lengths that do not cover the requests' bytes exactly.
    lengths = b"".join(struct.pack(">II", len(e) + 1, 1) for e in encoded)
    shifted = msgpack.packb([3, TS, TS, lengths, requests], use_bin_type=True)
    with pytest.raises(CorruptRecord):
        Spans.read(shifted)
