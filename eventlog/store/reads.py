"""Reading committed events back: by position, by stream, newest first.

An event's bytes live once, in its Raft entry. ``positions`` maps a position to
``(log_index, ordinal, version)``; a read takes the ordinal-th event of that entry's batch.
It decodes only the requests that hold the events it wants, cut out of the entry by the
batch's spans (``batch.Spans``), unless it wants most of the entry: then, and for entries
written before spans, it decodes the entry whole, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any

import attrs

from eventlog.errors import CorruptRecord
from eventlog.protocol.reads import READ_PAGE_BYTES, READ_PAGE_EVENTS, event_bytes
from eventlog.records import EventFilter, Page, RecordedEvent
from eventlog.state.batch import Spans, decode_batch, events_in_order
from eventlog.state.machine import event_id
from eventlog.store import sealed
from eventlog.store.codecs import POS, U64_MAX, Q, decode_entry, stream_key, u64
from eventlog.store.layout import Dbs, Gate, Txn
from eventlog.types import Position

__all__ = [
    "SCAN_POSITIONS",
    "SUBSCRIPTION_BATCH",
    "SUBSCRIPTION_BATCH_BYTES",
    "EventReader",
    "Flat",
    "Tail",
]

SUBSCRIPTION_BATCH = 1000
"""Events a subscription reads at a time, at most."""
SUBSCRIPTION_BATCH_BYTES = 1 << 20
"""Bytes of events' data and metadata after which a subscription's batch stops (it keeps the
event that crossed the mark): what a reader that does not read can make a node buffer."""

SCAN_POSITIONS = 20_000
"""Positions one filtered read looks at, at most: a filter that matches little is answered in
bounded pages, each saying how far it looked, not by one call that scans the whole log."""
_SCAN_CHUNK = 1000

Flat = tuple[str, str, bytes, bytes]
"""One event of a stored batch as a read needs it: stream, type, data, metadata."""


@attrs.frozen
class EventReader:
    """Committed-and-applied reads; any thread, alongside the writer."""

    _env: Any
    _gate: Gate
    _dbs: Dbs

    def read_all(self, from_position: int = 1, limit: int | None = None) -> list[RecordedEvent]:
        """Events in position order from ``from_position`` (0 or less reads from the start)."""
        if limit is not None and limit <= 0:
            return []
        refs: list[tuple[int, bytes]] = []
        with self._gate.txn(self._env) as txn:
            cursor = txn.cursor(db=self._dbs.positions)
            if cursor.set_range(Q.pack(max(from_position, 1))):
                for key, raw in cursor:
                    refs.append(_ref(key, raw))
                    if len(refs) == limit:
                        break
            return self._recorded(txn, refs)

    def read_page(
        self,
        from_position: int = 1,
        limit: int | None = None,
        filter: EventFilter | None = None,
        max_bytes: int = READ_PAGE_BYTES,
    ) -> Page:
        """The events from ``from_position`` on that ``filter`` keeps: up to ``limit`` (at most
        ``READ_PAGE_EVENTS``), about ``max_bytes``, looking at ``SCAN_POSITIONS`` at most."""
        wanted = READ_PAGE_EVENTS if limit is None else min(limit, READ_PAGE_EVENTS)
        start = max(from_position, 1)
        kept: list[RecordedEvent] = []
        size = 0
        with self._gate.txn(self._env) as txn:
            cursor = txn.cursor(db=self._dbs.positions)
            head = u64(cursor.key(), "positions", cursor.key()) if cursor.last() else 0
            looked = start - 1
            if wanted > 0 and cursor.set_range(Q.pack(start)):
                rows = islice(cursor, SCAN_POSITIONS if filter is not None else wanted)
                while refs := [_ref(key, raw) for key, raw in islice(rows, _SCAN_CHUNK)]:
                    for event in self._recorded(txn, refs, filter):
                        kept.append(event)
                        size += event_bytes(event)
                        if len(kept) >= wanted or size >= max_bytes:
                            return Page(kept, event.position + 1, head)
                    looked = refs[-1][0]
            return Page(kept, looked + 1, head)

    def read_stream(
        self, stream: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of ``stream`` in version order from ``from_version``; [] if it is absent."""

        def rows(cursor: Any, sid: bytes) -> Iterator[tuple[bytes, bytes]]:
            found = cursor.set_range(sid + Q.pack(max(from_version, 1)))
            return cursor.iternext() if found else iter(())

        return self._stream(stream, limit, rows)

    def read_stream_backwards(
        self, stream: str, from_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of ``stream`` in descending version order from ``from_version`` (its last
        event when None): the newest snapshot or the tail of a stream without reading it all."""
        if from_version is not None and from_version < 1:
            return []

        def rows(cursor: Any, sid: bytes) -> Iterator[tuple[bytes, bytes]]:
            start = sid + Q.pack(U64_MAX if from_version is None else from_version)
            if not cursor.set_range(start):
                found = cursor.last()  # past every stream: the last row may be ours
            else:
                found = cursor.key() == start or cursor.prev()
            return cursor.iterprev() if found else iter(())

        return self._stream(stream, limit, rows)

    def _stream(
        self,
        stream: str,
        limit: int | None,
        rows: Callable[[Any, bytes], Iterator[tuple[bytes, bytes]]],
    ) -> list[RecordedEvent]:
        """The events of ``stream`` at the index rows ``rows`` walks, while they are its own."""
        if limit is not None and limit <= 0:
            return []
        refs: list[tuple[int, bytes | None]] = []
        with self._gate.txn(self._env) as txn:
            dbs = self._dbs
            sid = sealed.get(txn, dbs.stream_ids, "stream_ids", stream_key(stream))
            if sid is None:
                return []
            for key, raw in rows(txn.cursor(db=dbs.stream_index), sid):
                if key[:8] != sid:
                    break
                value = sealed.unseal("stream_index", key, raw)
                row = sealed.get(txn, dbs.positions, "positions", value)
                refs.append((u64(value, "stream_index", key), row))
                if len(refs) == limit:
                    break
            return self._recorded(txn, refs)

    def _recorded(
        self,
        txn: Txn,
        refs: Sequence[tuple[int, bytes | None]],
        filter: EventFilter | None = None,
    ) -> list[RecordedEvent]:
        """Build events from ``(position, positions row)``, those ``filter`` keeps, reading
        each entry once (the events of one entry are adjacent in position and version order)."""
        rows: list[tuple[int, int, int, int]] = []
        wanted: dict[int, list[int]] = {}
        for position, row in refs:
            if row is None or len(row) != POS.size:
                raise CorruptRecord("positions", position, "missing or not 20 bytes")
            log_index, ordinal, version = POS.unpack(row)
            rows.append((position, log_index, ordinal, version))
            wanted.setdefault(log_index, []).append(ordinal)
        result: list[RecordedEvent] = []
        loaded, timestamp = -1, 0
        event: Callable[[int], Flat] = _none
        for position, log_index, ordinal, version in rows:
            if log_index != loaded:
                timestamp, event = self._entry_events(txn, log_index, wanted[log_index])
                loaded = log_index
            try:
                stream, kind, data, metadata = event(ordinal)
            except IndexError:
                raise CorruptRecord(
                    "positions", position, f"no event {ordinal} in {log_index}"
                ) from None
            if filter is not None and not filter.matches(stream, kind):
                continue
            result.append(
                RecordedEvent(
                    position=Position(position),
                    stream=stream,
                    version=version,
                    type=kind,
                    data=data,
                    metadata=metadata,
                    id=event_id(timestamp, position),
                    timestamp=timestamp,
                )
            )
        return result

    def _entry_events(
        self, txn: Txn, index: int, ordinals: list[int]
    ) -> tuple[int, Callable[[int], Flat]]:
        """The batch timestamp of entry ``index``, and its events by ordinal: sliced by its
        spans when the ``ordinals`` wanted lie in at most half of its requests, else all of
        them decoded at once (the entry was checked when it was applied)."""
        entry = decode_entry(index, txn.get(Q.pack(index), db=self._dbs.raft_log))
        try:
            spans = Spans.read(entry.data)
            if spans is not None:
                requests = {spans.request_of(ordinal) for ordinal in ordinals}
                if 2 * len(requests) <= len(spans.starts) - 1:
                    return spans.timestamp_ms, _sliced(spans)
            batch = decode_batch(entry.data)
            flat = events_in_order(batch.requests)
        except (CorruptRecord, ValueError, TypeError) as error:
            raise CorruptRecord("raft_log", index, f"batch does not decode: {error}") from error
        except IndexError:
            raise CorruptRecord("raft_log", index, "a position points past its events") from None
        return batch.timestamp_ms, flat.__getitem__


def _ref(key: bytes, raw: bytes) -> tuple[int, bytes]:
    """A row of ``positions``: the position, and where its event is."""
    position = u64(key, "positions", key)
    return position, sealed.unseal("positions", key, raw, position)


def _sliced(spans: Spans) -> Callable[[int], Flat]:
    """Events by ordinal, decoding each request the first time one of its events is asked."""
    decoded: dict[int, list[Flat]] = {}

    def event(ordinal: int) -> Flat:
        request = spans.request_of(ordinal)
        events = decoded.get(request)
        if events is None:
            try:
                events = decoded[request] = spans.events(request)
            except CorruptRecord as error:
                raise CorruptRecord("raft_log", None, str(error)) from error
        return events[ordinal - spans.first_ordinals[request]]

    return event


def _none(ordinal: int) -> Flat:
    raise IndexError(ordinal)


@attrs.define
class Tail:
    """Where a subscription stands in the log, whoever drives it (a node's connection, the
    embedded store's iterator): the next page from ``position`` on through its ``filter``,
    and, when a page reached the head, the position to wait for."""

    read_page: Callable[[int, int | None, EventFilter | None, int], Page]
    position: int
    filter: EventFilter | None = None
    _told: int = attrs.field(init=False)
    """The position the consumer last heard of."""

    def __attrs_post_init__(self) -> None:
        self._told = self.position

    def next_page(self) -> tuple[Page, bool]:
        """The next page, and whether it is worth sending: it has events, or it moved the
        position on (past what a filter skipped) and reached the head or a batch's worth of
        positions, so a consumer of rare events still moves its checkpoint on and sees its
        subscription is alive, a page at a time, not per position."""
        page = self.read_page(
            self.position, SUBSCRIPTION_BATCH, self.filter, SUBSCRIPTION_BATCH_BYTES
        )
        self.position = page.next_position
        moved = self.position - self._told
        due = bool(page.events) or (moved > 0 and (page.at_end or moved >= SUBSCRIPTION_BATCH))
        if due:
            self._told = self.position
        return page, due
