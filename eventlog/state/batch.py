"""What a Raft entry of the event store carries: a batch of client requests, encoded once.

The leader packs many client requests (``eventlog.protocol.requests``, each as it travelled)
into one entry and stamps the batch with its clock, so every node assigns the same timestamps
and event ids when it applies the entry. The format is a plain msgpack array, versioned by its
first element: ``[FORMAT, timestamp_ms, [request, ...]]``.
"""

from __future__ import annotations

from typing import Any

import msgpack

from eventlog.errors import CorruptRecord
from eventlog.protocol.requests import KIND_APPEND

__all__ = [
    "FORMAT",
    "decode_batch",
    "encode_batch",
    "events_in_order",
]

FORMAT = 1


def encode_batch(timestamp_ms: int, wire_requests: list[list[Any]]) -> bytes:
    """Encode a batch from requests already in wire form (each encoded by its client once)."""
    packed: bytes = msgpack.packb([FORMAT, timestamp_ms, wire_requests], use_bin_type=True)
    return packed


def decode_batch(data: bytes) -> tuple[int, list[Any]]:
    """The timestamp and the wire-form requests of a stored batch; each request is checked
    with ``check_request`` where it is used. Raises ``CorruptRecord`` if it does not decode."""
    try:
        version, timestamp_ms, requests = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise CorruptRecord("entry", None, str(error)) from error
    if version != FORMAT:
        raise CorruptRecord("entry", None, f"unknown batch format {version}")
    if type(timestamp_ms) is not int or not isinstance(requests, list):
        raise CorruptRecord("entry", None, "batch is not [format, timestamp, requests]")
    return timestamp_ms, requests


def events_in_order(requests: list[Any]) -> list[tuple[str, str, bytes, bytes]]:
    """``(stream, type, data, metadata)`` of every event of a batch's requests, in ordinal
    order: the order in which applying the batch numbers them (lease requests hold none)."""
    return [
        (stream, kind, data, metadata)
        for request_kind, _, appends in requests
        if request_kind == KIND_APPEND
        for stream, _, events in appends
        for kind, data, metadata in events
    ]
