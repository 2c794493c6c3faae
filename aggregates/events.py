"""Domain events and their metadata. Pure domain code: attrs and the standard library only.

An event is a frozen attrs class holding what happened, nothing else. What every event carries
besides (its id, when it happened, what caused it, which conversation it belongs to) lives in
``EventMeta``, so event classes stay plain values and their payload is only their fields.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

import attrs


@attrs.frozen
class DomainEvent:
    """Base of domain events. Subclass it with ``@attrs.frozen`` (subclasses of a frozen
    class are frozen too) and register it with ``@event_type("Name", version=N)``."""


@attrs.frozen(kw_only=True)
class EventMeta:
    """What every event carries besides its fields. ``correlation_id`` is shared by every
    event that one request or workflow led to; ``causation_id`` is the event (or command)
    that directly caused this one (None for an event caused by nobody we know of)."""

    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None


@attrs.frozen
class PendingEvent:
    """An event triggered on an aggregate and not yet saved."""

    event: DomainEvent
    meta: EventMeta


@attrs.frozen(kw_only=True)
class Envelope:
    """A stored event decoded: the event as its current class, its metadata, and where the
    log put it (``position`` is what a projection's checkpoint is compared with)."""

    event: DomainEvent
    meta: EventMeta
    stream: str
    version: int
    position: int
    recorded_at: datetime
    schema_version: int
    """The schema version it was written with (it has been upcast to the current one)."""


@attrs.frozen
class _Cause:
    correlation_id: str
    causation_id: str | None


_cause: ContextVar[_Cause | None] = ContextVar("aggregates_cause", default=None)


@contextmanager
def correlated(correlation_id: str, *, causation_id: str | None = None) -> Iterator[None]:
    """Events triggered inside the block carry these ids (for example a request id)."""
    token = _cause.set(_Cause(correlation_id, causation_id))
    try:
        yield
    finally:
        _cause.reset(token)


@contextmanager
def caused_by(meta: EventMeta) -> Iterator[None]:
    """Events triggered inside the block were caused by the event with ``meta`` and
    continue its correlation (for a policy or process manager reacting to it)."""
    with correlated(meta.correlation_id, causation_id=meta.event_id):
        yield


def new_meta() -> EventMeta:
    """Fresh metadata for an event being triggered now, in the current causation context.
    An event outside any context starts its own correlation."""
    event_id = str(uuid.uuid4())
    cause = _cause.get()
    return EventMeta(
        event_id=event_id,
        occurred_at=datetime.now(UTC),
        correlation_id=event_id if cause is None else cause.correlation_id,
        causation_id=None if cause is None else cause.causation_id,
    )
