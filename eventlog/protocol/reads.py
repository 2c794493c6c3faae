"""A client's read, as one value checked by one set of rules wherever it is made: by the client
before it sends it, by the node that receives it, and by the embedded store. A read that
cannot mean what it says (position 0, a limit of 0, a stream name that is not a str) raises
``InvalidRequest`` at once instead of quietly reading something else.

Each read travels as a dict of its fields (``args``), next to the read barrier's own
``min_position``.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import attrs

from eventlog.errors import InvalidRequest
from eventlog.records import (
    MAX_NUMBER,
    MAX_STREAM_NAME_BYTES,
    EventFilter,
    Page,
    RecordedEvent,
)

__all__ = [
    "READ_PAGE_BYTES",
    "READ_PAGE_EVENTS",
    "PagedRead",
    "Read",
    "ReadAll",
    "ReadPage",
    "ReadStream",
    "ReadStreamBackwards",
    "Subscribe",
    "args_of",
    "check_filter",
    "check_min_position",
    "check_stream_name",
    "event_bytes",
    "next_filtered",
    "next_page",
    "pack_filter",
    "page_limit",
    "page_of",
    "within_page",
]


def check_stream_name(name: Any) -> str:
    """A stream's name: a str of 1..MAX_STREAM_NAME_BYTES bytes (only the start is echoed)."""
    if not isinstance(name, str):
        raise InvalidRequest(f"a stream name must be a str, not {type(name).__name__}")
    if not name or len(name.encode()) > MAX_STREAM_NAME_BYTES:
        raise InvalidRequest(f"stream name must be 1..{MAX_STREAM_NAME_BYTES} bytes: {name!r:.60}")
    return name


def _whole(name: str, value: Any, minimum: int, meaning: str) -> None:
    if type(value) is not int:
        raise InvalidRequest(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise InvalidRequest(f"{name} must be at least {minimum} ({meaning}), not {value}")
    if value > MAX_NUMBER:
        raise InvalidRequest(f"{name} must be at most {MAX_NUMBER}, not {value}")


def _position(_: Any, field: attrs.Attribute[Any], value: Any) -> None:
    _whole(field.name, value, 1, "positions start at 1")


def _version(_: Any, field: attrs.Attribute[Any], value: Any) -> None:
    _whole(field.name, value, 1, "versions start at 1")


def _version_or_none(instance: Any, field: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _version(instance, field, value)


def _limit(_: Any, field: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _whole(field.name, value, 1, "None reads without a limit")


def _stream(_: Any, __: attrs.Attribute[Any], value: Any) -> None:
    check_stream_name(value)


def check_min_position(value: Any) -> int | None:
    """The position a read waits for before it reads anywhere (None: a linearizable read)."""
    if value is not None:
        _whole("min_position", value, 0, "the position to wait for")
    return int(value) if value is not None else None


def check_filter(value: Any) -> EventFilter | None:
    """A filter as a caller gave it (an ``EventFilter``, checked when it was made) or as it
    travels (a dict of its fields, checked by making one)."""
    if value is None or isinstance(value, EventFilter):
        return value
    if not isinstance(value, dict):
        raise InvalidRequest(f"a filter must be an EventFilter, not {type(value).__name__}")
    unknown = set(value) - {"streams", "types", "system"}
    if unknown:
        raise InvalidRequest(f"a filter has no field {sorted(unknown)[0]!r}")
    return EventFilter(value.get("streams", ()), value.get("types", ()), value.get("system", False))


def pack_filter(value: EventFilter | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"streams": list(value.streams), "types": list(value.types), "system": value.system}


R = TypeVar("R", bound="_Read")


class _Read:
    @classmethod
    def from_args(cls: type[R], args: dict[str, Any]) -> R:
        """The read a node received; fields left out take their defaults."""
        fields = attrs.fields(cast(Any, cls))
        missing = [f.name for f in fields if f.default is attrs.NOTHING and f.name not in args]
        if missing:
            raise InvalidRequest(f"a read of this kind needs {', '.join(missing)}")
        return cls(**{field.name: args[field.name] for field in fields if field.name in args})


@attrs.frozen(kw_only=True)
class ReadAll(_Read):
    from_position: int = attrs.field(default=1, validator=_position)
    limit: int | None = attrs.field(default=None, validator=_limit)


@attrs.frozen(kw_only=True)
class ReadPage(_Read):
    """A read of the log through a filter, answered with a ``Page``."""

    from_position: int = attrs.field(default=1, validator=_position)
    limit: int | None = attrs.field(default=None, validator=_limit)
    filter: EventFilter | None = attrs.field(default=None, converter=check_filter)


@attrs.frozen(kw_only=True)
class ReadStream(_Read):
    stream: str = attrs.field(validator=_stream)
    from_version: int = attrs.field(default=1, validator=_version)
    limit: int | None = attrs.field(default=None, validator=_limit)


@attrs.frozen(kw_only=True)
class ReadStreamBackwards(_Read):
    stream: str = attrs.field(validator=_stream)
    from_version: int | None = attrs.field(default=None, validator=_version_or_none)
    """None: from the stream's last event."""
    limit: int | None = attrs.field(default=None, validator=_limit)


@attrs.frozen(kw_only=True)
class Subscribe(_Read):
    from_position: int = attrs.field(default=1, validator=_position)
    filter: EventFilter | None = attrs.field(default=None, converter=check_filter)


Read = ReadAll | ReadPage | ReadStream | ReadStreamBackwards | Subscribe


def args_of(read: Read) -> dict[str, Any]:
    """The fields as they travel (a filter as a dict; none at all when there is none, which
    is what a node that predates filters understands)."""
    args = attrs.asdict(read, recurse=False)
    if "filter" in args:
        packed = pack_filter(args.pop("filter"))
        if packed is not None:
            args["filter"] = packed
    return args


# -- pages -------------------------------------------------------------------------------------
READ_PAGE_EVENTS = 10_000
"""Events one answer to a read carries, at most; a client asks for the next page."""
READ_PAGE_BYTES = 8 << 20
"""Event bytes (data and metadata) after which an answer stops (it keeps the event that
crossed the mark), so no answer approaches the frame cap however large the events."""

PagedRead = ReadAll | ReadStream | ReadStreamBackwards


def event_bytes(event: RecordedEvent) -> int:
    return len(event.data) + len(event.metadata)


def within_page(events: list[RecordedEvent], max_bytes: int = READ_PAGE_BYTES) -> None:
    """Cut ``events`` after the one whose bytes reach ``max_bytes`` (in place)."""
    total = 0
    for count, event in enumerate(events, start=1):
        total += event_bytes(event)
        if total >= max_bytes:
            del events[count:]
            return


P = TypeVar("P", ReadAll, ReadStream, ReadStreamBackwards)


def page_limit(remaining: int | None) -> int:
    """How many events one page asks for: at most ``READ_PAGE_EVENTS`` of those wanted."""
    return READ_PAGE_EVENTS if remaining is None else min(remaining, READ_PAGE_EVENTS)


def page_of(read: P, remaining: int | None) -> P:
    """The read of one page of ``read``."""
    return attrs.evolve(read, limit=page_limit(remaining))


def next_filtered(page: Page, limit: int | None, read: int) -> int | None:
    """Where a filtered read goes on after ``page``, having kept ``read`` events of the
    ``limit`` it wants (None: all of them): None once it has them or the page reached the
    log's head."""
    if (limit is not None and read >= limit) or page.at_end:
        return None
    return page.next_position


def next_page(read: PagedRead, page: list[RecordedEvent]) -> PagedRead | None:
    """The read of what follows a ``page`` that was full (its limit or its bytes reached), or
    None when the page ended the read."""
    asked = read.limit if read.limit is not None else READ_PAGE_EVENTS
    if not page or (len(page) < asked and sum(map(event_bytes, page)) < READ_PAGE_BYTES):
        return None
    last = page[-1]
    if isinstance(read, ReadAll):
        return attrs.evolve(read, from_position=last.position + 1)
    if isinstance(read, ReadStream):
        return attrs.evolve(read, from_version=last.version + 1)
    return None if last.version <= 1 else attrs.evolve(read, from_version=last.version - 1)
