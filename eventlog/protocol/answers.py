"""What a node answers: the public records as plain msgpack-friendly lists, and errors by the
one table of error codes that both the node and the client read.

An answer is ``[call_id, "ok", payload]``, ``[call_id, "error", {"code": ..., ...}]`` or, on a
subscription, ``[call_id, "events", [event, ...]]``.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import attrs
import cattrs

from eventlog.errors import (
    AccessChangeRefused,
    AuthenticationFailed,
    CorruptRecord,
    EventLogError,
    EventTooLarge,
    FrameError,
    InvalidRequest,
    LeaseHeld,
    MembershipError,
    NotLeader,
    Overloaded,
    PermissionDenied,
    StorageFull,
    TrackingConflict,
    Unavailable,
    WrongCluster,
    WrongExpectedVersion,
)
from eventlog.records import (
    Access,
    AppendResult,
    Configuration,
    LeaseGrant,
    Manifest,
    MemberStatus,
    NodeStatus,
    Page,
    RecordedEvent,
    RoleInfo,
)
from eventlog.types import Position

__all__ = [
    "ERROR_CODES",
    "pack_access",
    "pack_configuration",
    "pack_error",
    "pack_event",
    "pack_lease",
    "pack_manifest",
    "pack_members",
    "pack_outcome_result",
    "pack_page",
    "pack_result",
    "pack_role",
    "pack_status",
    "unpack_access",
    "unpack_configuration",
    "unpack_error",
    "unpack_event",
    "unpack_lease",
    "unpack_manifest",
    "unpack_members",
    "unpack_page",
    "unpack_result",
    "unpack_role",
    "unpack_status",
]


def pack_event(e: RecordedEvent) -> list[Any]:
    return [e.position, e.stream, e.version, e.type, e.data, e.metadata, e.id, e.timestamp]


def unpack_event(raw: Any) -> RecordedEvent:
    try:
        position, stream, version, type_, data, metadata, id_, timestamp = raw
        return RecordedEvent(
            position=Position(int(position)),
            stream=str(stream),
            version=int(version),
            type=str(type_),
            data=bytes(data),
            metadata=bytes(metadata),
            id=bytes(id_),
            timestamp=int(timestamp),
        )
    except (TypeError, ValueError) as error:
        raise CorruptRecord("event", None, str(error)) from error


def pack_page(page: Page) -> dict[str, Any]:
    return {
        "events": [pack_event(event) for event in page.events],
        "next": page.next_position,
        "head": page.head,
    }


def unpack_page(raw: Any) -> Page:
    """A page as a node sent it (a dict, which a pushed batch of events never is)."""
    try:
        return Page(
            [unpack_event(event) for event in raw["events"]], int(raw["next"]), int(raw["head"])
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CorruptRecord("page", None, str(error)) from error


def pack_result(r: AppendResult) -> list[int]:
    return [r.first_position, r.last_position, r.stream_version]


def unpack_result(raw: Any) -> AppendResult:
    try:
        first, last, version = raw
        return AppendResult(
            first_position=Position(int(first)),
            last_position=Position(int(last)),
            stream_version=int(version),
        )
    except (TypeError, ValueError) as error:
        raise CorruptRecord("append result", None, str(error)) from error


def pack_lease(g: LeaseGrant) -> list[Any]:
    return [g.name, g.owner, g.token, g.expires_ms, g.checkpoint, g.released]


def unpack_lease(raw: Any) -> LeaseGrant:
    try:
        name, owner, token, expires_ms, checkpoint, released = raw
        return LeaseGrant(
            name=str(name),
            owner=str(owner),
            token=int(token),
            expires_ms=int(expires_ms),
            checkpoint=int(checkpoint),
            released=bool(released),
        )
    except (TypeError, ValueError) as error:
        raise CorruptRecord("lease", None, str(error)) from error


def pack_outcome_result(result: AppendResult | LeaseGrant) -> list[Any]:
    if isinstance(result, LeaseGrant):
        return pack_lease(result)
    return pack_result(result)


_STATUS = cattrs.Converter()
"""Status travels as a map with field names (it is small and read by people as JSON)."""
R = TypeVar("R")


def _unstructure(record: object) -> dict[str, Any]:
    packed: dict[str, Any] = _STATUS.unstructure(record)
    return packed


def _structure(raw: Any, kind: type[R], what: str) -> R:
    """``raw`` as a ``kind``; ``CorruptRecord`` naming ``what`` if it is not one."""
    try:
        return _STATUS.structure(raw, kind)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as error:
        raise CorruptRecord(what, None, str(error)) from error


def pack_status(status: NodeStatus) -> dict[str, Any]:
    packed = _unstructure(status)
    packed["leases"] = list(packed["leases"])
    packed["alarms"] = list(packed["alarms"])
    return packed


def pack_members(members: list[MemberStatus]) -> list[dict[str, Any]]:
    return [attrs.asdict(member) for member in members]


def pack_configuration(configuration: Configuration) -> dict[str, Any]:
    """Addresses by id as a string: a frame's maps have string keys only."""
    packed = _unstructure(configuration)
    packed["addresses"] = {str(node): address for node, address in packed["addresses"].items()}
    return packed


def unpack_configuration(raw: Any) -> Configuration:
    return _structure(raw, Configuration, "configuration")


def pack_manifest(manifest: Manifest) -> dict[str, Any]:
    return _unstructure(manifest)


def unpack_manifest(raw: Any) -> Manifest:
    return _structure(raw, Manifest, "manifest")


def unpack_members(raw: Any) -> list[MemberStatus]:
    return _structure(raw, list[MemberStatus], "members")


def pack_access(access: Access) -> dict[str, Any]:
    return _unstructure(access)


def unpack_access(raw: Any) -> Access:
    return _structure(raw, Access, "access")


def pack_role(role: RoleInfo) -> dict[str, Any]:
    return _unstructure(role)


def unpack_role(raw: Any) -> RoleInfo:
    return _structure(raw, RoleInfo, "role")


def unpack_status(raw: Any) -> NodeStatus:
    return _structure(raw, NodeStatus, "status")


# -- errors ------------------------------------------------------------------------------------
@attrs.frozen
class _Code:
    """How one error travels: its code and the attributes its constructor takes, in order."""

    code: str
    error: type[EventLogError]
    fields: tuple[str, ...]


ERROR_CODES: Final[tuple[_Code, ...]] = (
    _Code("not_leader", NotLeader, ("node_id", "leader_hint", "address")),
    _Code("wrong_expected_version", WrongExpectedVersion, ("stream", "expected", "actual")),
    _Code("lease_held", LeaseHeld, ("name", "owner", "expires_ms")),
    _Code("tracking_conflict", TrackingConflict, ("name", "position", "recorded")),
    _Code("invalid", InvalidRequest, ("message",)),
    _Code("too_large", EventTooLarge, ("size", "limit")),
    _Code("unavailable", Unavailable, ("reason",)),
    _Code("wrong_cluster", WrongCluster, ("expected", "actual")),
    _Code("storage_full", StorageFull, ("reason",)),
    _Code("overloaded", Overloaded, ("reason",)),
    _Code("membership", MembershipError, ("reason", "message")),
    _Code("authentication_failed", AuthenticationFailed, ("reason",)),
    _Code("permission_denied", PermissionDenied, ("user", "permission", "name")),
    _Code("access", AccessChangeRefused, ("reason", "message")),
)
"""The errors a client sees typed. Any other error of a node travels as ``unavailable``: the
node could not serve the call now, and the client may try again (elsewhere)."""

_BY_CLASS: Final = {code.error: code for code in ERROR_CODES}
_BY_CODE: Final = {code.code: code for code in ERROR_CODES}


def pack_error(error: EventLogError) -> dict[str, Any]:
    """The body of an ``error`` answer for ``error``."""
    code = _BY_CLASS.get(type(error))
    if code is None:
        return {"code": "unavailable", "reason": str(error)}
    return {"code": code.code, **{name: getattr(error, name) for name in code.fields}}


def unpack_error(body: Any) -> EventLogError:
    """The typed error an ``error`` answer stands for; FrameError if it is malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        raise FrameError(f"an error answer is a map with a code, not {body!r:.80}")
    code = _BY_CODE.get(body["code"])
    if code is None:
        return Unavailable(f"node answered with unknown error {body['code']!r:.40}")
    try:
        return code.error(*[body[name] for name in code.fields])
    except (KeyError, TypeError) as error:
        raise FrameError(f"malformed {code.code} answer: {error}") from None
