"""Snapshots (``aggregate_recorder(purpose="snapshots")``): sparse versions, so not the
stream's own. Each goes to ``$snapshot-<category>-<id>`` appended with ``ANY``, its originator
version in its metadata (``{"originator_version": N}``), and is read back newest first.

Two snapshots of one version are not a conflict here (nothing is read before writing): the
later one is the one read. ``select_events(desc=True, limit=n)``, what a repository asks to
load an aggregate, stops after the first ``n`` snapshots that match, newest written first:
those are the highest versions when snapshots are written in version order, as
``Application.take_snapshot`` and snapshotting intervals write them; any other query reads
the snapshot stream whole and sorts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent

from eventraft.eventsourcing.batches import sparse_plan, sparse_version
from eventraft.eventsourcing.errors import persistence_errors
from eventraft.eventsourcing.naming import originator_id_of
from eventraft.eventsourcing.stores import Log

__all__ = [
    "PAGE",
    "EventraftSnapshotRecorder",
]

PAGE = 64
"""Snapshots read at a time, newest first."""


class EventraftSnapshotRecorder(AggregateRecorder):
    """Records of sparse versions in the system streams ``<prefix><id>``."""

    def __init__(self, log: Log, prefix: str) -> None:
        self.log = log
        self.prefix = prefix

    def _stream(self, originator_id: str) -> str:
        return f"{self.prefix}{originator_id}"

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        plan = sparse_plan(stored_events, self._stream)
        if plan.appends:
            with persistence_errors():
                self.log.store.append_multi(plan.appends)
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        if limit is not None and limit <= 0:
            return []
        text = str(originator_id)
        stream = self._stream(text)
        returned_id = originator_id_of(text)
        found: dict[int, StoredEvent] = {}
        """By version: the newest written of each (read first, as reading goes backwards)."""
        before: int | None = None
        while before is None or before > 0:
            with persistence_errors():
                page = self.log.store.read_stream_backwards(stream, before, PAGE)
            for event in page:
                version = sparse_version(event.metadata, stream, event.position)
                if version in found or not _within(version, gt, lte):
                    continue
                found[version] = StoredEvent(returned_id, version, event.type, event.data)
            if len(page) < PAGE or (desc and limit is not None and len(found) >= limit):
                break
            before = page[-1].version - 1
        ordered = sorted(found.values(), key=lambda s: s.originator_version, reverse=desc)
        return ordered if limit is None else ordered[:limit]


def _within(version: int, gt: int | None, lte: int | None) -> bool:
    return (gt is None or version > gt) and (lte is None or version <= lte)
