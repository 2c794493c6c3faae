"""What a Raft entry of the event store carries: a batch of client requests, encoded once.

The leader packs many client requests (``eventlog.protocol.requests``, each as it travelled)
into one entry and stamps the batch twice, so every node decides alike when it applies it:
with its wall clock (``timestamp_ms``: the events' timestamps and ids, information only) and
with the cluster's clock (``clock_ms``: elapsed leader time, which decides lease expiry and
request-id retention; see ``eventlog.state.clock``). The format is a plain msgpack array,
versioned by its first element: ``[2, timestamp_ms, clock_ms, [request, ...]]``. Format 1,
``[1, timestamp_ms, [request, ...]]``, took the wall clock for both and still reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import msgpack

from eventlog.errors import CorruptRecord
from eventlog.protocol.requests import KIND_APPEND

__all__ = [
    "FORMAT",
    "Batch",
    "decode_batch",
    "encode_batch",
    "events_in_order",
]

FORMAT = 2
_PACKER = msgpack.Packer(use_bin_type=True)


@attrs.frozen(slots=True)
class Batch:
    timestamp_ms: int
    """The leader's wall clock: what the events say of when they were appended."""
    clock_ms: int
    """The cluster's clock: what decides expiry."""
    requests: list[Any]
    """In wire form; each is checked with ``check_request`` where it is used."""


def encode_batch(timestamp_ms: int, clock_ms: int, encoded_requests: Sequence[bytes]) -> bytes:
    """Encode a batch from requests already encoded (each by its client, once): their bytes
    are laid side by side after the array's header, not decoded and encoded again."""
    head = _PACKER.pack_array_header(4) + _PACKER.pack(FORMAT)
    head += _PACKER.pack(timestamp_ms) + _PACKER.pack(clock_ms)
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
        case [2, int() as timestamp_ms, int() as clock_ms, list() as requests]:
            return Batch(timestamp_ms, clock_ms, requests)
        case [1, int() as timestamp_ms, list() as requests]:
            return Batch(timestamp_ms, timestamp_ms, requests)
        case [2 | 1, *_]:
            raise CorruptRecord("entry", None, "batch is not [format, timestamps..., requests]")
    raise CorruptRecord("entry", None, f"unknown batch format {fields[0]!r}")


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
