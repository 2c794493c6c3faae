"""What a Raft entry of the event store carries: a batch of client requests, encoded once.

The leader packs many client requests (``eventlog.protocol.requests``, each as it travelled)
into one entry and stamps the batch twice, so every node decides alike when it applies it:
with its wall clock (``timestamp_ms``: the events' timestamps and ids, information only) and
with the cluster's clock (``clock_ms``: elapsed leader time, which decides lease expiry and
request-id retention; see ``eventlog.state.clock``). The format is a plain msgpack array,
versioned by its first element: ``[3, timestamp_ms, clock_ms, spans, [request, ...]]``.

``spans`` (bytes) gives each request's length in bytes and its number of events, as ``>II``
pairs, so that a read of a few events takes only their requests' bytes out of the entry and
decodes those (``Spans``), not the whole batch. The leader knows both without decoding
anything: each request came encoded by its client, and was counted when it was checked.
Format 2, ``[2, timestamp_ms, clock_ms, [request, ...]]``, had no spans, and format 1,
``[1, timestamp_ms, [request, ...]]``, took the wall clock for both clocks; both still read.
"""

from __future__ import annotations

import bisect
import itertools
import struct
from collections.abc import Sequence
from typing import Any

import attrs
import msgpack

from eventlog.errors import CorruptRecord
from eventlog.protocol.requests import KIND_APPEND

__all__ = [
    "FORMAT",
    "Batch",
    "Spans",
    "batch_of",
    "decode_batch",
    "encode_batch",
    "events_in_order",
]

FORMAT = 3
_PACKER = msgpack.Packer(use_bin_type=True)
_SPAN = struct.Struct(">II")


@attrs.frozen(slots=True)
class Batch:
    timestamp_ms: int
    """The leader's wall clock: what the events say of when they were appended."""
    clock_ms: int
    """The cluster's clock: what decides expiry."""
    requests: list[Any]
    """In wire form; each is checked with ``check_request`` where it is used."""
    spans: bytes | None = None
    """Each request's ``>II`` (bytes, events); None in batches of formats 1 and 2."""

    def event_counts(self) -> list[int] | None:
        """The events each request holds, as its span says (None without spans); the state
        machine checks them against the requests as it applies them."""
        if self.spans is None:
            return None
        if len(self.spans) != _SPAN.size * len(self.requests):
            raise CorruptRecord("entry", None, "batch spans do not match its requests")
        return [events for _, events in _SPAN.iter_unpack(self.spans)]


def encode_batch(
    timestamp_ms: int,
    clock_ms: int,
    encoded_requests: Sequence[bytes],
    event_counts: Sequence[int],
) -> bytes:
    """Encode a batch from requests already encoded (each by its client, once): their bytes
    are laid side by side after the array's header, not decoded and encoded again."""
    spans = b"".join(
        _SPAN.pack(len(encoded), events)
        for encoded, events in zip(encoded_requests, event_counts, strict=True)
    )
    head = _PACKER.pack_array_header(5) + _PACKER.pack(FORMAT)
    head += _PACKER.pack(timestamp_ms) + _PACKER.pack(clock_ms) + _PACKER.pack(spans)
    return b"".join((head, _PACKER.pack_array_header(len(encoded_requests)), *encoded_requests))


def decode_batch(data: bytes) -> Batch:
    """A stored batch; raises ``CorruptRecord`` if it does not decode."""
    try:
        fields = msgpack.unpackb(data, raw=False, strict_map_key=True)
        if not isinstance(fields, list) or not fields:
            raise ValueError("not an array")
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise CorruptRecord("entry", None, str(error)) from error
    match fields:
        case [3, int() as timestamp_ms, int() as clock_ms, bytes() as spans, list() as requests]:
            return Batch(timestamp_ms, clock_ms, requests, spans)
        case [2, int() as timestamp_ms, int() as clock_ms, list() as requests]:
            return Batch(timestamp_ms, clock_ms, requests)
        case [1, int() as timestamp_ms, list() as requests]:
            return Batch(timestamp_ms, timestamp_ms, requests)
        case [3 | 2 | 1, *_]:
            raise CorruptRecord("entry", None, "batch is not [format, timestamps..., requests]")
    raise CorruptRecord("entry", None, f"unknown batch format {fields[0]!r}")


def batch_of(timestamp_ms: int, clock_ms: int, requests: Sequence[list[Any]]) -> bytes:
    """A batch of requests in wire form, encoded here (what a leader batches came encoded
    by its clients): for the simulator's clients and for tests."""
    encoded = [_PACKER.pack(request) for request in requests]
    return encode_batch(timestamp_ms, clock_ms, encoded, [_events_of(r) for r in requests])


def _events_of(request: Any) -> int:
    """The events a request of a batch holds, as ``events_in_order`` numbers them."""
    match request:
        case [kind, _, list() as appends, *_] if kind == KIND_APPEND:
            return sum(len(events) for _, _, events in appends)
    return 0


@attrs.frozen(slots=True)
class Spans:
    """A format-3 entry read by its spans: the requests that hold the wanted events are cut
    out of the entry's bytes and decoded, each once; the rest is never decoded."""

    data: bytes
    timestamp_ms: int
    starts: list[int]
    """Where each request's bytes begin in ``data``, and where the last one ends."""
    first_ordinals: list[int]
    """The ordinal of each request's first event, and the number of events after the last."""

    @classmethod
    def read(cls, data: bytes) -> Spans | None:
        """The spans of a format-3 entry; None for an entry of an earlier format."""
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=True)
        unpacker.feed(data)
        try:
            if unpacker.read_array_header() != 5 or unpacker.unpack() != FORMAT:
                return None
            timestamp_ms, _, spans = unpacker.unpack(), unpacker.unpack(), unpacker.unpack()
            count = unpacker.read_array_header()
            body = unpacker.tell()
        except (ValueError, TypeError, msgpack.UnpackException) as error:
            raise CorruptRecord("entry", None, f"batch does not decode: {error}") from error
        if not isinstance(spans, bytes) or not isinstance(timestamp_ms, int):
            raise CorruptRecord("entry", None, "batch spans are not bytes")
        pairs = list(_SPAN.iter_unpack(spans))
        starts = list(itertools.accumulate((length for length, _ in pairs), initial=body))
        if len(pairs) != count or starts[-1] != len(data):
            raise CorruptRecord("entry", None, "batch spans do not cover its requests")
        firsts = list(itertools.accumulate((events for _, events in pairs), initial=0))
        return cls(data, timestamp_ms, starts, firsts)

    def request_of(self, ordinal: int) -> int:
        """The request that holds the event at ``ordinal`` (``IndexError`` past the last)."""
        if not 0 <= ordinal < self.first_ordinals[-1]:
            raise IndexError(ordinal)
        return bisect.bisect_right(self.first_ordinals, ordinal) - 1

    def events(self, request: int) -> list[tuple[str, str, bytes, bytes]]:
        """The events of one request, flattened as ``events_in_order`` does."""
        raw = self.data[self.starts[request] : self.starts[request + 1]]
        try:
            decoded = msgpack.unpackb(raw, raw=False, strict_map_key=True)
        except (ValueError, TypeError, msgpack.UnpackException) as error:
            raise CorruptRecord("entry", None, f"a request does not decode: {error}") from error
        events = events_in_order([decoded])
        if len(events) != self.first_ordinals[request + 1] - self.first_ordinals[request]:
            raise CorruptRecord("entry", None, f"request {request} is not what its span says")
        return events


def events_in_order(requests: list[Any]) -> list[tuple[str, str, bytes, bytes]]:
    """``(stream, type, data, metadata)`` of every event of a batch's requests, in ordinal
    order: the order in which applying the batch numbers them (lease requests hold none; an
    append's tracking record, after its appends, is no event)."""
    return [
        (stream, kind, data, metadata)
        for request_kind, _, appends, *_ in requests
        if request_kind == KIND_APPEND
        for stream, _, events in appends
        for kind, data, metadata in events
    ]
