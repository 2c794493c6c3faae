"""One ``insert_events`` call as one atomic ``append_multi``: the stored events grouped by
stream, each stream with the expected version its first event implies, and the way back from
the positions written to each event's notification id.

A stream's versions in the log are dense from 1, and an aggregate's version is its stream's
version, so ``expected_version = first.originator_version - 1`` makes eventraft's version
check the library's uniqueness check: a conflict is ``WrongExpectedVersion``, and nothing
is read before writing. What that cannot represent is refused before anything is sent: a
version below 1, or a stream's versions in one call not counting up by one (``DataError``);
a version given twice in one call is a conflict in any store (``IntegrityError``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import attrs
from eventsourcing.persistence import DataError, IntegrityError, StoredEvent

from eventlog import ANY, AppendResult, NewEvent

__all__ = [
    "Plan",
    "dense_plan",
    "sparse_plan",
    "sparse_version",
]

Appends = list[tuple[str, list[NewEvent], int]]


@attrs.frozen
class Plan:
    appends: Appends
    """``(stream, events, expected_version)``, streams in the order the call first names them."""
    offsets: list[int]
    """For each stored event, in the order given, its place in the append (0 is the first
    position written): ``append_multi`` writes the streams one after another."""

    def positions(self, result: AppendResult) -> list[int]:
        """The notification id of each stored event, in the order given."""
        return [result.first_position + offset for offset in self.offsets]


def dense_plan(stored_events: Sequence[StoredEvent], stream_of: Callable[[str], str]) -> Plan:
    """Events of aggregates: each stream's versions must go on from its last, by one."""
    streams, grouped = _grouped(stored_events, stream_of)
    appends: Appends = []
    for stream, events in grouped.items():
        _check_versions(stream, [event.originator_version for event in events])
        new = [NewEvent(event.topic, event.state) for event in events]
        appends.append((stream, new, events[0].originator_version - 1))
    return Plan(appends, _offsets(streams, grouped))


def sparse_plan(stored_events: Sequence[StoredEvent], stream_of: Callable[[str], str]) -> Plan:
    """Snapshots: any versions, appended with ``ANY``, each version in its metadata."""
    streams, grouped = _grouped(stored_events, stream_of)
    appends: Appends = []
    for stream, events in grouped.items():
        for event in events:
            _check_int(stream, event.originator_version)
        new = [NewEvent(e.topic, e.state, _version_metadata(e.originator_version)) for e in events]
        appends.append((stream, new, ANY))
    return Plan(appends, _offsets(streams, grouped))


def sparse_version(metadata: bytes, stream: str, position: int) -> int:
    """The originator version a sparse record carries; ``DataError`` if it carries none."""
    try:
        version = json.loads(metadata)["originator_version"]
    except (ValueError, TypeError, KeyError):
        version = None
    if type(version) is not int:
        raise DataError(
            f"the record at position {position} of stream {stream!r} carries no originator "
            "version: it was not written by eventraft.eventsourcing"
        )
    return version


def _version_metadata(version: int) -> bytes:
    return b'{"originator_version":%d}' % version


def _grouped(
    stored_events: Sequence[StoredEvent], stream_of: Callable[[str], str]
) -> tuple[list[str], dict[str, list[StoredEvent]]]:
    """Each event's stream, and the events by stream (in the order first named)."""
    streams = [stream_of(str(event.originator_id)) for event in stored_events]
    grouped: dict[str, list[StoredEvent]] = {}
    for stream, event in zip(streams, stored_events, strict=True):
        grouped.setdefault(stream, []).append(event)
    return streams, grouped


def _offsets(streams: list[str], grouped: dict[str, list[StoredEvent]]) -> list[int]:
    starts: dict[str, int] = {}
    at = 0
    for stream, events in grouped.items():
        starts[stream] = at
        at += len(events)
    offsets = []
    for stream in streams:
        offsets.append(starts[stream])
        starts[stream] += 1
    return offsets


def _check_versions(stream: str, versions: list[int]) -> None:
    seen: set[int] = set()
    previous = 0
    for version in versions:
        _check_int(stream, version)
        if version in seen:
            raise IntegrityError(f"stream {stream!r}: version {version} is given twice")
        if not seen and version < 1:
            raise DataError(
                f"stream {stream!r}: originator version {version} cannot be written; "
                "eventraft's stream versions, and so an aggregate's, start at 1"
            )
        if seen and version != previous + 1:
            raise DataError(
                f"stream {stream!r}: version {version} cannot follow version {previous} in "
                "one insert: a stream's versions count up by one"
            )
        seen.add(version)
        previous = version


def _check_int(stream: str, version: object) -> None:
    if type(version) is not int:
        raise DataError(
            f"stream {stream!r}: an originator version is an int, not {type(version).__name__}"
        )
