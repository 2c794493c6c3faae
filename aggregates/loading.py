"""Loading an aggregate, without I/O: ``Load`` says which read to make next and is fed what
the store returned, so the sync and the async repository share every decision.

A load looks for the newest usable snapshot at or below the version asked for (one backwards
read of one record for the latest state), then reads the stream forwards from the version
after it, in pages, applying each event.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs

from aggregates.aggregate import Aggregate
from aggregates.codec import Codec
from aggregates.errors import AggregateNotFound, ReplayError
from aggregates.registry import AggregateSpec
from aggregates.snapshots import decode_snapshot, snapshot_meta
from aggregates.streams import aggregate_stream, snapshot_stream
from eventlog import RecordedEvent

A = TypeVar("A", bound=Aggregate)
SNAPSHOT_PAGE = 16
"""Snapshots read per backwards page when looking for one at or below a past version."""


@attrs.frozen
class ReadForward:
    stream: str
    from_version: int
    limit: int


@attrs.frozen
class ReadBackward:
    stream: str
    from_version: int | None
    limit: int


Read = ReadForward | ReadBackward


class Load(Generic[A]):
    def __init__(
        self,
        cls: type[A],
        spec: AggregateSpec,
        codec: Codec,
        aggregate_id: str,
        *,
        version: int | None,
        use_snapshots: bool,
        page_size: int,
    ) -> None:
        if version is not None and version < 1:
            raise ValueError(f"version must be 1 or more, not {version}")
        self.cls, self.spec, self.codec, self.id = cls, spec, codec, aggregate_id
        self.version, self.page_size = version, page_size
        self.stream = aggregate_stream(spec.name, aggregate_id)
        self._aggregate: A | None = None
        self._looking_for_snapshot = use_snapshots
        self._snapshot_cursor: int | None = None
        """Where the next backwards snapshot read starts (None: the newest)."""
        self._done = False
        self._read: Read | None = None

    def next_read(self) -> Read | None:
        """The read to make next, or None when the load is complete."""
        if self._done:
            self._read = None
        elif self._looking_for_snapshot:
            limit = 1 if self.version is None else SNAPSHOT_PAGE
            self._read = ReadBackward(snapshot_stream(self.stream), self._snapshot_cursor, limit)
        else:
            start = self._current_version() + 1
            limit = self.page_size
            if self.version is not None:
                limit = min(limit, self.version - start + 1)
            self._read = ReadForward(self.stream, start, limit) if limit > 0 else None
        return self._read

    def feed(self, records: list[RecordedEvent]) -> None:
        """What the store returned for the last ``next_read``."""
        read = self._read
        if isinstance(read, ReadBackward):
            self._feed_snapshots(records, read)
        elif isinstance(read, ReadForward):
            self._feed_events(records, read)
        else:
            raise RuntimeError("feed() without a read to answer")
        self._read = None

    def result(self) -> A:
        aggregate = self._aggregate
        if aggregate is None or aggregate.version == 0:
            raise AggregateNotFound(self.spec.name, self.id)
        if self.version is not None and aggregate.version < self.version:
            raise AggregateNotFound(self.spec.name, self.id, self.version, aggregate.version)
        return aggregate

    def _current_version(self) -> int:
        return 0 if self._aggregate is None else self._aggregate.version

    def _feed_snapshots(self, records: list[RecordedEvent], read: ReadBackward) -> None:
        for record in records:
            meta = snapshot_meta(record)
            if self.version is None or (meta and meta.aggregate_version <= self.version):
                registry = self.codec.registry
                self._aggregate = decode_snapshot(record, self.cls, self.spec, registry, self.id)
                self._looking_for_snapshot = False
                return
        if len(records) == read.limit and records[-1].version > 1:
            self._snapshot_cursor = records[-1].version - 1
        else:
            self._looking_for_snapshot = False

    def _feed_events(self, records: list[RecordedEvent], read: ReadForward) -> None:
        for record in records:
            self._apply(record)
        if len(records) < read.limit:
            self._done = True

    def _apply(self, record: RecordedEvent) -> None:
        if self._aggregate is None:
            self._aggregate = self.cls.blank(self.id)
        event = self.codec.decode_event(record)
        try:
            self._aggregate._apply_stored(event, record.version)
        except Exception as error:
            raise ReplayError(
                self.spec.name, self.id, record.stream, record.version, record.position
            ) from error
