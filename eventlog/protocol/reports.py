"""The report, a frame a node sends its peers every second beside its Raft messages: the
alarms it has raised (NOSPACE, a corruption), so the leader refuses appends when any member is
out of room and every member's ``status`` shows it; and the digest of its history after the
last entry it applied, so members compare their histories at common entries and one whose
history differs from the majority's finds out."""

from __future__ import annotations

from typing import Any, Final

import attrs

from eventlog.errors import FrameError
from eventlog.records import Alarm

__all__ = [
    "REPORT_TAG",
    "Applied",
    "Report",
    "is_report",
    "pack_report",
    "unpack_report",
]

REPORT_TAG: Final = "report"
"""A Raft message's first field is an int tag; a report's is this string."""
_MAX_ALARMS = 8
_MAX_DETAIL_CHARS = 1000
_MAX_DIGEST_BYTES = 64

Applied = tuple[int, int, bytes]
"""``(log index, position, digest)``: the history of a node after it applied that entry."""


@attrs.frozen
class Report:
    alarms: tuple[Alarm, ...] = ()
    applied: Applied | None = None


def pack_report(report: Report) -> list[Any]:
    alarms = [[alarm.kind, alarm.detail[:_MAX_DETAIL_CHARS]] for alarm in report.alarms]
    return [REPORT_TAG, alarms, None if report.applied is None else list(report.applied)]


def is_report(body: object) -> bool:
    return type(body) is list and len(body) == 3 and body[0] == REPORT_TAG


def unpack_report(body: object) -> Report:
    """The report ``body`` holds; FrameError for anything else."""
    if not is_report(body):
        raise FrameError("not a report")
    assert isinstance(body, list)
    listed, applied = body[1], body[2]
    if type(listed) is not list or len(listed) > _MAX_ALARMS:
        raise FrameError(f"a report lists at most {_MAX_ALARMS} alarms")
    alarms = []
    for item in listed:
        if (
            type(item) is not list
            or len(item) != 2
            or not all(type(v) is str and len(v) <= _MAX_DETAIL_CHARS for v in item)
        ):
            raise FrameError("an alarm is [kind, detail]")
        alarms.append(Alarm(kind=item[0], detail=item[1]))
    if applied is not None and (
        type(applied) is not list
        or len(applied) != 3
        or not all(type(v) is int and 0 <= v < 2**63 for v in applied[:2])
        or type(applied[2]) is not bytes
        or len(applied[2]) > _MAX_DIGEST_BYTES
    ):
        raise FrameError("a report's history is [log index, position, digest]")
    return Report(tuple(alarms), None if applied is None else (applied[0], applied[1], applied[2]))
