"""One root for every error the replicated log raises, named by who is at fault."""

from __future__ import annotations

from pathlib import Path

from eventlog.types import NodeId

__all__ = [
    "AccessChangeRefused",
    "AuthenticationFailed",
    "ConfigError",
    "CorruptRecord",
    "DataDirError",
    "EventLogError",
    "EventTooLarge",
    "FrameError",
    "InvalidRequest",
    "InvariantViolation",
    "LeaseHeld",
    "MembershipError",
    "NodeFailed",
    "NotLeader",
    "Overloaded",
    "PermissionDenied",
    "ProposalDropped",
    "StorageFull",
    "TLSError",
    "TrackingConflict",
    "Unavailable",
    "WrongCluster",
    "WrongExpectedVersion",
]


class EventLogError(Exception):
    """Root of every error raised by :mod:`eventlog`."""


class NotLeader(EventLogError):
    """The node asked is not the leader; ``leader_hint`` may name the one that is, and
    ``address`` where it listens for clients."""

    def __init__(
        self, node_id: NodeId, leader_hint: NodeId | None, address: str | None = None
    ) -> None:
        self.node_id, self.leader_hint, self.address = node_id, leader_hint, address
        super().__init__(f"node {node_id} is not the leader (leader hint: {leader_hint})")


class ProposalDropped(EventLogError):
    """The leader refused a proposal it could not accept now (for example during a transfer)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"proposal dropped: {reason}")


class InvariantViolation(EventLogError):
    """A safety invariant of the log was broken; the node must stop rather than go on."""


class ConfigError(EventLogError):
    """A configuration value is out of range or inconsistent."""


class WrongExpectedVersion(EventLogError):
    """The stream was not at the version the append expected; nothing was appended."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        self.stream, self.expected, self.actual = stream, expected, actual
        super().__init__(f"stream {stream!r} is at version {actual}, expected {expected}")


class TrackingConflict(EventLogError):
    """The tracking record already holds a position at or beyond the one the append carried:
    its consumer has processed that far already (a reaction repeated); nothing was appended."""

    def __init__(self, name: str, position: int, recorded: int) -> None:
        self.name, self.position, self.recorded = name, position, recorded
        super().__init__(
            f"tracking {name!r} is at position {recorded}, not below {position}: "
            "nothing was appended"
        )


class LeaseHeld(EventLogError):
    """Another owner holds the lease and it has not expired; try again later."""

    def __init__(self, name: str, owner: str, expires_ms: int) -> None:
        self.name, self.owner, self.expires_ms = name, owner, expires_ms
        super().__init__(f"lease {name!r} is held by {owner!r} until {expires_ms} ms")


class Unavailable(EventLogError):
    """The call's deadline passed. An append may or may not have been committed; retrying it
    with the same request id is safe and never appends twice."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"unavailable: {reason}")


class InvalidRequest(EventLogError):
    """The caller asked for something malformed (an empty stream name, a bad version, ...)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class EventTooLarge(InvalidRequest):
    """An append larger than the cluster takes (``size`` and ``limit`` in bytes: its events'
    data and metadata, plus 32 per event); nothing was sent or written."""

    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(f"an append of {size:,} bytes exceeds the limit of {limit:,} bytes")


class CorruptRecord(EventLogError):
    """Bytes read from disk or from a peer do not decode; names where they came from."""

    def __init__(self, where: str, key: object, reason: str) -> None:
        self.where, self.key, self.reason = where, key, reason
        super().__init__(f"corrupt record in {where} at {key!r}: {reason}")


class WrongCluster(EventLogError):
    """The node reached belongs to another cluster than the caller's: a wrong address or a
    wrong ``cluster_id``; retrying cannot help."""

    def __init__(self, expected: str, actual: str) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(f"the node belongs to cluster {actual!r}, not {expected!r}")


class DataDirError(EventLogError):
    """The data directory cannot be used by this node: not ours, another node's, unwritable."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"data dir {str(path)!r}: {reason}")


class NodeFailed(EventLogError):
    """The node stopped itself on an error of its own (its disk, its code): it answers
    nothing any more and its process exits non-zero, for a supervisor to restart it. What it
    acknowledged before is safe; what it had not, its callers retry elsewhere."""

    def __init__(self, node_id: int, cause: BaseException) -> None:
        self.node_id, self.cause = node_id, cause
        super().__init__(f"node {node_id} failed: {type(cause).__name__}: {cause}")


class MembershipError(EventLogError):
    """A membership change that cannot be made now; ``reason`` says why, for callers to act
    on: ``in_flight``, ``not_committed_in_term``, ``unknown_id``, ``already_member``,
    ``not_learner``, ``learner_behind``, ``last_voter``, ``id_reused``, ``malformed``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason, self.message = reason, message
        super().__init__(message)

    @property
    def code(self) -> str:
        return self.reason


class AuthenticationFailed(EventLogError):
    """The user name and password, or the client certificate, are not a user's. Said the
    same way whatever was wrong, and raised at once (asking again cannot help)."""

    def __init__(self, reason: str = "authentication failed") -> None:
        self.reason = reason
        super().__init__(reason)


class AccessChangeRefused(EventLogError):
    """A change of users or roles that the auth store refuses; nothing changed. ``reason``:
    ``user_exists``, ``no_such_user``, ``role_exists``, ``no_such_role``, ``builtin_role``,
    ``no_such_grant``, ``last_admin``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason, self.message = reason, message
        super().__init__(message)


class PermissionDenied(EventLogError):
    """``user`` lacks ``permission`` on ``name`` (a stream, a lease, or the whole log);
    nothing of the request was done."""

    def __init__(self, user: str, permission: str, name: str) -> None:
        self.user, self.permission, self.name = user, permission, name
        super().__init__(f"user {user!r} may not {permission} {name!r}")


class TLSError(EventLogError):
    """The two ends do not agree on TLS: a plaintext client at a node that requires TLS, a
    TLS client at a node run ``--insecure``, or a certificate that does not verify. Raised at
    once: asking again, or another node of the same cluster, cannot help."""


class Overloaded(EventLogError):
    """The node holds as many requests as it may (in count or in bytes) and took nothing of
    this one; the client waits a little and tries again within its deadline."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"overloaded: {reason}")


class StorageFull(EventLogError):
    """No room to write: the LMDB map cannot grow further, the disk is full, or a member of
    the cluster reached its storage quota (the NOSPACE alarm). Nothing was written; appends
    are taken again once the alarm is lifted."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class FrameError(EventLogError):
    """Bytes from a peer are not a valid frame or message; the peer is at fault.

    Whoever reads the connection closes that one connection and logs ``reason``; nothing
    else is affected.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"bad frame: {reason}")
