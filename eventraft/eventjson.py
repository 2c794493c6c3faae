"""A recorded event as one JSON object, for ``eventraft read``.

Data and metadata are opaque bytes to the log, so each is shown as what it turns out to be:
JSON as the value it holds (an object, not a string holding one), other UTF-8 as a string,
anything else as ``"base64:..."``. With ``decode``, a record the aggregates layer wrote in
msgpack (its metadata is a msgpack map) is shown as JSON too, read generically, so no event
class is needed.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from typing import Any

import msgpack

from aggregates.formats import Format, loads, sniff
from eventlog import RecordedEvent


def event_line(event: RecordedEvent, *, decode: bool = False) -> str:
    """One line of JSON: position, stream, version, type, data, metadata, id, timestamp."""
    packed = decode and _is_msgpack_record(event.metadata)
    return json.dumps(
        {
            "position": event.position,
            "stream": event.stream,
            "version": event.version,
            "type": event.type,
            "data": _value(event.data, packed=packed, decode=decode),
            "metadata": _value(event.metadata, packed=packed, decode=decode),
            "id": event.id.hex(),
            "timestamp": iso_timestamp(event.timestamp),
        }
    )


def iso_timestamp(milliseconds: int) -> str:
    """Milliseconds since the epoch as ISO 8601 in UTC: ``2024-05-01T09:30:00.250Z``."""
    seconds, millis = divmod(milliseconds, 1000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_msgpack_record(metadata: bytes) -> bool:
    try:
        return sniff(metadata) is Format.MSGPACK
    except ValueError:
        return False


def _value(raw: bytes, *, packed: bool, decode: bool) -> Any:
    if packed:
        try:
            return _jsonable(loads(raw, Format.MSGPACK))
        except ValueError:
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _binary(raw, decode=decode)
    try:
        return json.loads(text, parse_constant=_refuse) if text.strip() else text
    except ValueError:
        return text


def _binary(raw: bytes, *, decode: bool) -> Any:
    """Bytes that are not text: msgpack maps and arrays (never valid UTF-8) when decoding."""
    if decode:
        try:
            return _jsonable(loads(raw, Format.MSGPACK))
        except ValueError:
            pass
    return "base64:" + base64.b64encode(raw).decode("ascii")


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # NaN and Infinity: Python's, not JSON's


def _jsonable(value: Any) -> Any:
    """msgpack values JSON cannot hold as they are: bytes, non-string keys, timestamps."""
    if isinstance(value, dict):
        return {
            k if isinstance(k, str) else json.dumps(_jsonable(k)): _jsonable(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode("ascii")
    if isinstance(value, msgpack.Timestamp):
        return value.to_datetime().isoformat().replace("+00:00", "Z")
    if isinstance(value, msgpack.ExtType):
        return {"ext": value.code, "data": _jsonable(value.data)}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    return value
