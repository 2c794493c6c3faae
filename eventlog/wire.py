"""Client-protocol encodings of the public records: plain msgpack-friendly lists."""

from __future__ import annotations

from typing import Any

from eventlog.errors import CorruptRecord
from eventlog.records import AppendResult, LeaseGrant, RecordedEvent
from eventlog.types import Position


def event_to_wire(e: RecordedEvent) -> list[Any]:
    return [e.position, e.stream, e.version, e.type, e.data, e.metadata, e.id, e.timestamp]


def event_from_wire(raw: Any) -> RecordedEvent:
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


def result_to_wire(r: AppendResult) -> list[int]:
    return [r.first_position, r.last_position, r.stream_version]


def result_from_wire(raw: Any) -> AppendResult:
    try:
        first, last, version = raw
        return AppendResult(
            first_position=Position(int(first)),
            last_position=Position(int(last)),
            stream_version=int(version),
        )
    except (TypeError, ValueError) as error:
        raise CorruptRecord("append result", None, str(error)) from error


def lease_to_wire(g: LeaseGrant) -> list[Any]:
    return [g.name, g.owner, g.token, g.expires_ms, g.checkpoint]


def lease_from_wire(raw: Any) -> LeaseGrant:
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


def outcome_result_to_wire(result: AppendResult | LeaseGrant) -> list[Any]:
    if isinstance(result, LeaseGrant):
        return lease_to_wire(result)
    return result_to_wire(result)
