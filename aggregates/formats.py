"""The one cattrs converter of the domain layer, and the two byte formats it is written in.

The converter turns events, metadata and aggregate state into JSON-compatible primitives and
back (datetimes, dates, UUIDs and Decimals as strings, bytes as base64, sets as lists), and
structures strictly: a string where an int belongs is an error, never a silent ``int("5")``.
Because its output suits both formats, the same value reads back identically from msgpack
(the default: compact, fast) and JSON (readable by any tool). Metadata is always a map, and a
map starts with ``{`` in JSON and with 0x80-0x8f, 0xde or 0xdf in msgpack, so stored records
say which format they are in without a header, and a store may hold both.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import uuid
from collections.abc import Callable, Set
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import cattrs
import msgpack

T = TypeVar("T")


class Format(enum.Enum):
    MSGPACK = "msgpack"
    JSON = "json"


def _strict(kind: type[T], *, also: tuple[type, ...] = ()) -> Callable[[Any, Any], T]:
    allowed = (kind, *also)

    def structure(value: Any, _: Any) -> T:
        if type(value) not in allowed:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return kind(value)  # type: ignore[call-arg]

    return structure


def _from_text(parse: Callable[[str], T], what: str) -> Callable[[Any, Any], T]:
    def structure(value: Any, _: Any) -> T:
        if not isinstance(value, str):
            raise TypeError(f"expected {what} as a string, got {type(value).__name__}")
        try:
            return parse(value)
        except (ValueError, InvalidOperation) as error:
            raise ValueError(f"bad {what} {value!r:.40}") from error

    return structure


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(str(error)) from error


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(unstruct_collection_overrides={Set: list})
    converter.register_structure_hook(int, _strict(int))
    converter.register_structure_hook(float, _strict(float, also=(int,)))
    converter.register_structure_hook(str, _strict(str))
    converter.register_structure_hook(bool, _strict(bool))
    for kind, parse, name in (
        (datetime, datetime.fromisoformat, "datetime"),
        (date, date.fromisoformat, "date"),
        (uuid.UUID, uuid.UUID, "UUID"),
        (Decimal, Decimal, "Decimal"),
        (bytes, _b64decode, "base64 bytes"),
    ):
        converter.register_structure_hook(kind, _from_text(parse, name))
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_unstructure_hook(uuid.UUID, str)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
    return converter


CONVERTER = make_converter()


def dumps(value: object, format: Format) -> bytes:
    """Primitives to bytes; raises ``TypeError``/``ValueError``/``OverflowError`` naming what
    the format cannot hold (an int beyond 64 bits in msgpack, a NaN in JSON, ...)."""
    if format is Format.JSON:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    packed: bytes = msgpack.packb(value, use_bin_type=True, datetime=False)
    return packed


def loads(data: bytes, format: Format) -> Any:
    """Bytes to primitives; raises ``ValueError`` if they are not one well-formed value."""
    try:
        if format is Format.JSON:
            return json.loads(data.decode("utf-8"))
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as error:
        raise ValueError(f"not {format.value}: {error}") from error


def sniff(metadata: bytes) -> Format:
    """The format of a record, from its metadata's first byte (always a map)."""
    first = metadata[:1]
    if first == b"{":
        return Format.JSON
    if first and (0x80 <= first[0] <= 0x8F or first[0] in (0xDE, 0xDF)):
        return Format.MSGPACK
    raise ValueError(f"metadata starting with {first!r} is neither a msgpack map nor JSON")
