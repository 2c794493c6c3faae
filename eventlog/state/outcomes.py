"""What a request came to, as the state machine decides it and as the requests table keeps it
(so a retry gets the first outcome back, byte for byte)."""

from __future__ import annotations

from typing import Any

import attrs

from eventlog.errors import (
    AccessChangeRefused,
    CorruptRecord,
    LeaseHeld,
    TrackingConflict,
    WrongExpectedVersion,
)
from eventlog.records import AppendResult, LeaseGrant
from eventlog.types import Position

__all__ = [
    "AccessChanged",
    "ClusterNamed",
    "Outcome",
    "Refusal",
    "Result",
]


@attrs.frozen(kw_only=True, slots=True)
class ClusterNamed:
    """What a request naming the cluster came to: the id in force after it (the first
    such request applied names the cluster; later ones change nothing)."""

    cluster_id: str


@attrs.frozen(kw_only=True, slots=True)
class AccessChanged:
    """What a change of users or roles came to: done (``op`` on ``name``)."""

    op: str
    name: str


Result = AppendResult | LeaseGrant | ClusterNamed | AccessChanged
Refusal = WrongExpectedVersion | LeaseHeld | AccessChangeRefused | TrackingConflict


def _refusal_key(error: Refusal | None) -> tuple[Any, ...] | None:
    """Exceptions compare by identity; outcomes read back from disk must equal the original."""
    if isinstance(error, WrongExpectedVersion):
        return (error.stream, error.expected, error.actual)
    if isinstance(error, LeaseHeld):
        return (error.name, error.owner, error.expires_ms)
    if isinstance(error, AccessChangeRefused):
        return (error.reason, error.message)
    if isinstance(error, TrackingConflict):
        return (error.name, error.position, error.recorded)
    return None


@attrs.frozen(kw_only=True, slots=True)
class Outcome:
    """What one request came to. Exactly one of ``result`` and ``error`` is set."""

    request_id: bytes
    result: Result | None = None
    error: Refusal | None = attrs.field(default=None, eq=_refusal_key)
    applied_ms: int = attrs.field(default=0, eq=False)
    """The cluster clock when it was decided; the outcome expires ``REQUEST_RETENTION_MS``
    later."""

    def __attrs_post_init__(self) -> None:
        if (self.result is None) == (self.error is None):
            raise ValueError("an outcome has exactly one of result and error")

    def to_record(self) -> list[object]:
        """``[request_id, tag, a, b, c, applied_ms]``, a msgpack-friendly list; ``tag`` is
        0 appended, 1 wrong expected version, 2 lease granted, 3 lease held, 4 cluster named,
        5 access changed, 6 access change refused, 7 tracking conflict."""
        rid, at = self.request_id, self.applied_ms
        match self.result, self.error:
            case AppendResult() as r, None:
                return [rid, 0, r.first_position, r.last_position, r.stream_version, at]
            case ClusterNamed() as n, None:
                return [rid, 4, n.cluster_id, 0, 0, at]
            case LeaseGrant() as g, None:
                return [rid, 2, [g.name, g.owner, g.token], g.expires_ms, g.checkpoint, at]
            case None, WrongExpectedVersion() as e:
                return [rid, 1, e.stream, e.expected, e.actual, at]
            case None, LeaseHeld() as h:
                return [rid, 3, [h.name, h.owner], h.expires_ms, 0, at]
            case AccessChanged() as a, None:
                return [rid, 5, [a.op, a.name], 0, 0, at]
            case None, AccessChangeRefused() as r:
                return [rid, 6, [r.reason, r.message], 0, 0, at]
            case None, TrackingConflict() as t:
                return [rid, 7, t.name, t.position, t.recorded, at]
        raise AssertionError(f"unencodable outcome {self!r}")

    @classmethod
    def from_record(cls, raw: object) -> Outcome:
        """Decode what ``to_record`` made; raises ``CorruptRecord`` on anything else."""
        if not isinstance(raw, list | tuple) or len(raw) != 6:
            raise CorruptRecord("requests", None, f"outcome is not a 6-list: {raw!r}")
        rid, tag, a, b, c, at = raw
        if not isinstance(rid, bytes) or not all(type(v) is int for v in (b, c, at)):
            raise CorruptRecord("requests", None, f"outcome fields of the wrong kind: {raw!r}")
        match tag, a:
            case 0, int():
                appended = AppendResult(
                    first_position=Position(a), last_position=Position(b), stream_version=c
                )
                return cls(request_id=rid, result=appended, applied_ms=at)
            case 1, str():
                return cls(request_id=rid, error=WrongExpectedVersion(a, b, c), applied_ms=at)
            case 2, [str() as name, str() as owner, int() as token]:
                grant = LeaseGrant(name=name, owner=owner, token=token, expires_ms=b, checkpoint=c)
                return cls(request_id=rid, result=grant, applied_ms=at)
            case 4, str():
                return cls(request_id=rid, result=ClusterNamed(cluster_id=a), applied_ms=at)
            case 3, [str() as name, str() as owner]:
                return cls(request_id=rid, error=LeaseHeld(name, owner, b), applied_ms=at)
            case 5, [str() as op, str() as name]:
                return cls(request_id=rid, result=AccessChanged(op=op, name=name), applied_ms=at)
            case 6, [str() as reason, str() as message]:
                refused = AccessChangeRefused(reason, message)
                return cls(request_id=rid, error=refused, applied_ms=at)
            case 7, str():
                return cls(request_id=rid, error=TrackingConflict(a, b, c), applied_ms=at)
        raise CorruptRecord("requests", rid, f"unknown outcome {raw!r}")
