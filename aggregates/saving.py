"""Saving aggregates, without I/O: ``SavePlan`` turns their pending events (and the
snapshots their policies ask for) into one atomic multi-stream append, and turns the store's
answer into a ``SaveResult`` or a ``ConcurrencyError``.

Each aggregate's stream is appended with the version it was loaded at as its expected
version, so a concurrent save of any of them fails the whole append. Snapshot streams are
appended with ANY: they only move with their aggregate's stream, in the same append.

The request id is derived from the pending events' ids, so repeating a save whose outcome is
unknown (``eventlog.Unavailable``) returns the first outcome and never appends twice.

A save may carry more than aggregates: a consumer's tracking record (``eventlog.Tracking``:
a process manager's "I reacted to position N", in the same atomic append as its reaction)
and raw appends of events of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import attrs
import structlog

from aggregates.aggregate import Aggregate
from aggregates.codec import Codec
from aggregates.errors import ConcurrencyError, EncodeError
from aggregates.policy import SnapshotPolicy
from aggregates.registry import AggregateSpec
from aggregates.snapshots import encode_snapshot
from aggregates.streams import aggregate_stream, snapshot_stream
from eventlog import ANY, AppendResult, NewEvent, Tracking, WrongExpectedVersion

_log = structlog.get_logger(__name__)
StreamAppend = tuple[str, Iterable[NewEvent], int]


@attrs.frozen
class SaveResult:
    """Where the save's records landed in the log. Wait for a projection to reach
    ``last_position`` to read your own writes. Both are 0 when there was nothing to save."""

    first_position: int
    last_position: int


NOTHING_SAVED = SaveResult(0, 0)


@attrs.frozen
class _Entry:
    aggregate: Aggregate
    spec: AggregateSpec
    stream: str
    expected: int


class SavePlan:
    def __init__(
        self,
        codec: Codec,
        aggregates: Iterable[Aggregate],
        policy_for: Callable[[AggregateSpec], SnapshotPolicy],
        *,
        tracking: Tracking | None = None,
        appends: Iterable[StreamAppend] = (),
    ) -> None:
        self.tracking = tracking
        self._entries: dict[str, _Entry] = {}
        events: list[StreamAppend] = []
        snapshots: list[StreamAppend] = []
        for aggregate in _distinct(aggregates):
            if not aggregate.pending_events:
                continue
            entry = self._entry(codec, aggregate)
            pending = aggregate.pending_events
            events.append((entry.stream, [codec.encode(p) for p in pending], entry.expected))
            if policy_for(entry.spec)(aggregate, entry.expected):
                snapshot = _snapshot(aggregate, entry.spec, codec)
                if snapshot is not None:
                    snapshots.append((snapshot_stream(entry.stream), [snapshot], ANY))
        self.appends = events + [(s, list(e), v) for s, e, v in appends] + snapshots
        self.request_id = self._request_id(tracking)

    def _request_id(self, tracking: Tracking | None) -> bytes | None:
        """From the pending events' ids (and the tracking record); None when no aggregate
        has events: the store then picks one per call (raw events alike need not be one
        request)."""
        if not self._entries:
            return None
        digest = hashlib.sha256()
        for entry in self._entries.values():
            for event in entry.aggregate.pending_events:
                digest.update(event.meta.event_id.encode())
        if tracking is not None:
            digest.update(f"\0{tracking.name}\0{tracking.position}".encode())
        return digest.digest()[:16]

    def _entry(self, codec: Codec, aggregate: Aggregate) -> _Entry:
        spec = codec.registry.aggregate_for(type(aggregate))
        stream = aggregate_stream(spec.name, aggregate.id)
        if stream in self._entries:
            raise ValueError(f"two different {spec.name} objects with id {aggregate.id!r}")
        entry = _Entry(aggregate, spec, stream, aggregate.saved_version)
        self._entries[stream] = entry
        return entry

    @property
    def empty(self) -> bool:
        return not self.appends and self.tracking is None

    def saved(self, result: AppendResult) -> SaveResult:
        """The append succeeded: the aggregates have nothing pending any more."""
        for entry in self._entries.values():
            entry.aggregate._mark_saved()
        return SaveResult(result.first_position, result.last_position)

    def conflict(self, error: WrongExpectedVersion) -> Exception:
        """The error to raise for a refused append: which aggregate was saved meanwhile."""
        entry = self._entries.get(error.stream)
        if entry is None:
            return error
        return ConcurrencyError(
            entry.spec.name, entry.aggregate.id, entry.stream, error.expected, error.actual
        )


def _distinct(aggregates: Iterable[Aggregate]) -> list[Aggregate]:
    """The same object passed twice is saved once."""
    seen: dict[int, Aggregate] = {}
    for aggregate in aggregates:
        seen.setdefault(id(aggregate), aggregate)
    return list(seen.values())


def _snapshot(aggregate: Aggregate, spec: AggregateSpec, codec: Codec) -> NewEvent | None:
    """A snapshot only saves reading time, so one that cannot be encoded is logged and left
    out rather than failing the save of the events."""
    try:
        return encode_snapshot(aggregate, spec, codec.format)
    except EncodeError as error:
        _log.error("snapshot_not_written", aggregate_type=spec.name, reason=error.reason)
        return None
