"""The alarm report, a frame a node sends its peers beside its Raft messages: the alarms it
has raised (NOSPACE, a corruption), so the leader refuses appends when any member is out of
room, and every member's ``status`` shows it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from eventlog.errors import FrameError
from eventlog.records import Alarm

__all__ = [
    "ALARMS_TAG",
    "is_alarm_report",
    "pack_alarm_report",
    "unpack_alarm_report",
]

ALARMS_TAG: Final = "alarms"
"""A Raft message's first field is an int tag; a report's is this string."""
_MAX_ALARMS = 8
_MAX_DETAIL_CHARS = 1000


def pack_alarm_report(alarms: Sequence[Alarm]) -> list[Any]:
    return [ALARMS_TAG, [[alarm.kind, alarm.detail[:_MAX_DETAIL_CHARS]] for alarm in alarms]]


def is_alarm_report(body: object) -> bool:
    return type(body) is list and len(body) == 2 and body[0] == ALARMS_TAG


def unpack_alarm_report(body: object) -> tuple[Alarm, ...]:
    """The alarms of a report; FrameError for anything else."""
    if not is_alarm_report(body):
        raise FrameError("not an alarm report")
    assert isinstance(body, list)
    listed = body[1]
    if type(listed) is not list or len(listed) > _MAX_ALARMS:
        raise FrameError(f"an alarm report lists at most {_MAX_ALARMS} alarms")
    alarms = []
    for item in listed:
        if (
            type(item) is not list
            or len(item) != 2
            or not all(type(v) is str and len(v) <= _MAX_DETAIL_CHARS for v in item)
        ):
            raise FrameError("an alarm is [kind, detail]")
        alarms.append(Alarm(kind=item[0], detail=item[1]))
    return tuple(alarms)
