"""Client-protocol encodings of the public records: plain msgpack-friendly lists."""

from __future__ import annotations

from typing import Any

from eventlog.errors import CorruptRecord
from eventlog.records import AppendResult, LeaseGrant, RecordedEvent
from eventlog.types import Position


def pack_event(e: RecordedEvent) -> list[Any]:
    return [e.position, e.stream, e.version, e.type, e.data, e.metadata, e.id, e.timestamp]


def unpack_event(raw: Any) -> RecordedEvent:
    try:
        position, stream, version, type_, data, metadata, id_, timestamp = raw
        return RecordedEvent(
            position=Position(int(position)),
            stream=str(stream),
            version=int(version),
            type=str(type_),
            data=bytes(data),
            metadata=bytes(metadata),
            id=bytes(id_),
            timestamp=int(timestamp),
        )
    except (TypeError, ValueError) as error:
        raise CorruptRecord("event", None, str(error)) from error


def pack_result(r: AppendResult) -> list[int]:
    return [r.first_position, r.last_position, r.stream_version]


def unpack_result(raw: Any) -> AppendResult:
    try:
        first, last, version = raw
        return AppendResult(
            first_position=Position(int(first)),
            last_position=Position(int(last)),
            stream_version=int(version),
        )
    except (TypeError, ValueError) as error:
        raise CorruptRecord("append result", None, str(error)) from error


def pack_lease(g: LeaseGrant) -> list[Any]:
    return [g.name, g.owner, g.token, g.expires_ms, g.checkpoint]


def unpack_lease(raw: Any) -> LeaseGrant:
    try:
        name, owner, token, expires_ms, checkpoint = raw
        return LeaseGrant(
            name=str(name),
            owner=str(owner),
            token=int(token),
            expires_ms=int(expires_ms),
            checkpoint=int(checkpoint),
        )
    except (TypeError, ValueError) as error:
        raise CorruptRecord("lease", None, str(error)) from error


def pack_outcome_result(result: AppendResult | LeaseGrant) -> list[Any]:
    if isinstance(result, LeaseGrant):
        return pack_lease(result)
    return pack_result(result)
