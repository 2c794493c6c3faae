"""What a Raft entry of the event store carries: a batch of client requests, encoded once.

The leader packs many client appends into one entry and stamps the batch with its clock, so
every node assigns the same timestamps and event ids when it applies the entry. The format is
plain msgpack arrays, versioned by their first element:

    [FORMAT, timestamp_ms, [request, ...]]
    request = [KIND_APPEND, request_id(16 bytes), [[stream, expected_version,
               [[type, data, metadata], ...]], ...]]
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import attrs
import msgpack

from eventlog.errors import CorruptRecord, InvalidRequest
from eventlog.records import ANY, MAX_STREAM_NAME_BYTES, MAX_TYPE_BYTES, NewEvent

FORMAT = 1
KIND_APPEND = 1
REQUEST_ID_BYTES = 16


@attrs.frozen(slots=True)
class StreamAppend:
    stream: str
    expected_version: int
    events: tuple[NewEvent, ...]


@attrs.frozen(slots=True)
class AppendRequest:
    """One client call: appends to one or more streams, all or nothing."""

    request_id: bytes
    appends: tuple[StreamAppend, ...]

    @property
    def event_count(self) -> int:
        return sum(len(append.events) for append in self.appends)


@attrs.frozen(slots=True)
class Batch:
    timestamp_ms: int
    requests: tuple[AppendRequest, ...]


def new_request(
    appends: Iterable[tuple[str, Iterable[NewEvent], int]], request_id: bytes | None = None
) -> AppendRequest:
    """Build and validate one append call; a fresh random request id unless one is given."""
    request = AppendRequest(
        request_id or os.urandom(REQUEST_ID_BYTES),
        tuple(StreamAppend(s, v, tuple(e)) for s, e, v in appends),
    )
    validate(request)
    return request


def validate(request: AppendRequest) -> None:
    """Reject what the state machine must never see; raises ``InvalidRequest`` naming it."""
    if len(request.request_id) != REQUEST_ID_BYTES:
        raise InvalidRequest(f"request id must be {REQUEST_ID_BYTES} bytes")
    if not request.appends:
        raise InvalidRequest("an append names at least one stream")
    seen: set[str] = set()
    for append in request.appends:
        name = append.stream
        if not name or len(name.encode()) > MAX_STREAM_NAME_BYTES:
            raise InvalidRequest(f"stream name must be 1..{MAX_STREAM_NAME_BYTES} bytes: {name!r}")
        if name in seen:
            raise InvalidRequest(f"stream {name!r} appears twice in one append")
        seen.add(name)
        if append.expected_version < ANY:
            raise InvalidRequest(f"expected_version {append.expected_version} for {name!r}")
        if not append.events:
            raise InvalidRequest(f"no events to append to {name!r}")
        for event in append.events:
            if not event.type or len(event.type.encode()) > MAX_TYPE_BYTES:
                raise InvalidRequest(f"event type must be 1..{MAX_TYPE_BYTES} bytes")
            if not isinstance(event.data, bytes) or not isinstance(event.metadata, bytes):
                raise InvalidRequest(f"event data and metadata must be bytes ({event.type})")


def request_to_wire(request: AppendRequest) -> list[Any]:
    return [
        KIND_APPEND,
        request.request_id,
        [
            [a.stream, a.expected_version, [[e.type, e.data, e.metadata] for e in a.events]]
            for a in request.appends
        ],
    ]


def request_from_wire(raw: Any) -> AppendRequest:
    """Decode one request; raises ``CorruptRecord`` on anything malformed."""
    try:
        kind, request_id, appends = raw
        if kind != KIND_APPEND:
            raise ValueError(f"unknown request kind {kind}")
        request = AppendRequest(
            bytes(request_id),
            tuple(
                StreamAppend(
                    str(stream), int(expected), tuple(NewEvent(t, d, m) for t, d, m in events)
                )
                for stream, expected, events in appends
            ),
        )
    except (TypeError, ValueError) as error:
        raise CorruptRecord("request", None, str(error)) from error
    validate_types(request)
    return request


def validate_types(request: AppendRequest) -> None:
    for append in request.appends:
        if not isinstance(append.stream, str):
            raise CorruptRecord("request", None, "stream name is not text")
        for event in append.events:
            if not isinstance(event.type, str) or not isinstance(event.data, bytes):
                raise CorruptRecord("request", None, "event type or data of the wrong kind")
            if not isinstance(event.metadata, bytes):
                raise CorruptRecord("request", None, "event metadata is not bytes")


def encode_batch(timestamp_ms: int, wire_requests: list[list[Any]]) -> bytes:
    """Encode a batch from requests already in wire form (each encoded by its client once)."""
    packed: bytes = msgpack.packb([FORMAT, timestamp_ms, wire_requests], use_bin_type=True)
    return packed


def decode_batch(data: bytes) -> Batch:
    try:
        raw = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
        version, timestamp_ms, requests = raw
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise CorruptRecord("entry", None, str(error)) from error
    if version != FORMAT:
        raise CorruptRecord("entry", None, f"unknown batch format {version}")
    return Batch(int(timestamp_ms), tuple(request_from_wire(r) for r in requests))
