"""The public values of the event log: what a caller appends, what it reads, what it gets back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import attrs

from eventlog.errors import DataDirError, InvalidRequest
from eventlog.types import Position

__all__ = [
    "ANY",
    "MANIFEST",
    "MAX_FILTER_TERMS",
    "MAX_NUMBER",
    "MAX_STREAM_NAME_BYTES",
    "MAX_TRACKING_NAME_BYTES",
    "MAX_TYPE_BYTES",
    "NO_STREAM",
    "SYSTEM_PREFIX",
    "TRACKING_PREFIX",
    "Access",
    "Alarm",
    "AppendResult",
    "Configuration",
    "EventFilter",
    "LeaseGrant",
    "LeaseStatus",
    "Manifest",
    "MemberStatus",
    "NewEvent",
    "NodeStatus",
    "Page",
    "RecordedEvent",
    "RoleInfo",
    "Tracking",
    "UserInfo",
    "tracking_covers",
]

ANY = -1
"""``expected_version`` that accepts any current version of the stream."""
NO_STREAM = 0
"""``expected_version`` for a stream that must not exist yet (its version is 0)."""

MAX_STREAM_NAME_BYTES = 1024
MAX_TYPE_BYTES = 256
MAX_NUMBER = 2**63 - 1
"""The largest position, version, limit, checkpoint or token a request may name: every one
is stored in 8 bytes, and one past it must still be one."""


@attrs.frozen(slots=True)
class NewEvent:
    """An event to append: its type name, its payload and optional metadata, all opaque bytes."""

    type: str
    data: bytes
    metadata: bytes = b""


@attrs.frozen(kw_only=True, slots=True)
class RecordedEvent:
    """A committed event. ``position`` is global and dense (1, 2, 3, ...); ``version`` counts
    the events of its stream (the first is 1). ``id`` is a UUIDv7 (time-ordered, 16 bytes)
    and ``timestamp`` the leader's clock in milliseconds when the batch was proposed."""

    position: Position
    stream: str
    version: int
    type: str
    data: bytes
    metadata: bytes
    id: bytes
    timestamp: int


MAX_FILTER_TERMS = 64
"""Stream prefixes, and event types, one filter may name: each event read is tested against
them on the node."""
SYSTEM_PREFIX = "$"
"""Streams whose names begin with it are the system's and its layers' own (snapshots,
tracking, projections' bookkeeping): a filter leaves them out unless asked."""


def _terms(values: Iterable[str], field: str, what: str, max_bytes: int) -> tuple[str, ...]:
    """A filter's prefixes or types: a tuple of at most ``MAX_FILTER_TERMS`` non-empty strs
    that fit the log's limits (one str alone is refused, not split into its letters),
    checked where a filter is made, by a caller or from a frame."""
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise InvalidRequest(
            f"a filter's {field} must be a tuple of names, not {type(values).__name__}"
        )
    if len(values) > MAX_FILTER_TERMS:
        raise InvalidRequest(f"a filter's {field} name {MAX_FILTER_TERMS} at most")
    for value in values:
        if not isinstance(value, str):
            raise InvalidRequest(f"a filter's {what} must be a str, not {type(value).__name__}")
        if not value or len(value.encode()) > max_bytes:
            raise InvalidRequest(f"a filter's {what} must be 1..{max_bytes} bytes: {value!r:.60}")
    return tuple(values)


def _stream_prefixes(values: Iterable[str]) -> tuple[str, ...]:
    return _terms(values, "streams", "stream prefix", MAX_STREAM_NAME_BYTES)


def _event_types(values: Iterable[str]) -> tuple[str, ...]:
    return _terms(values, "types", "event type", MAX_TYPE_BYTES)


@attrs.frozen(slots=True)
class EventFilter:
    """Which events of the log a consumer wants, decided by the node that reads them, so what
    it skips never travels: events of streams whose names begin with one of ``streams`` (none
    given: every stream), of one of ``types`` (none given: every type). Streams of the system
    (``SYSTEM_PREFIX``) are left out unless ``system`` is set or one of ``streams`` names them."""

    streams: tuple[str, ...] = attrs.field(default=(), converter=_stream_prefixes)
    types: tuple[str, ...] = attrs.field(default=(), converter=_event_types)
    system: bool = attrs.field(default=False)

    @system.validator
    def _check_system(self, _: attrs.Attribute[bool], value: object) -> None:
        if type(value) is not bool:
            raise InvalidRequest(f"a filter's system must be a bool, not {type(value).__name__}")

    _type_set: frozenset[str] = attrs.field(
        init=False, eq=False, repr=False, default=attrs.Factory(lambda f: frozenset(f.types), True)
    )
    _wants_system: bool = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(
            lambda f: f.system or any(p.startswith(SYSTEM_PREFIX) for p in f.streams), True
        ),
    )

    def matches(self, stream: str, type: str) -> bool:
        if stream.startswith(SYSTEM_PREFIX) and not self._wants_system:
            return False
        if self.streams and not stream.startswith(self.streams):
            return False
        return not self._type_set or type in self._type_set


@attrs.frozen(slots=True)
class Page:
    """One read of the log through a filter: the ``events`` it kept, and where to go on
    (``next_position``: every position below it was looked at, kept or skipped, so a
    consumer's checkpoint moves past what it skipped). ``head`` is the log's last position
    when the page was read; ``next_position`` beyond it means the page reached the end."""

    events: list[RecordedEvent]
    next_position: int
    head: int

    @property
    def at_end(self) -> bool:
        return self.next_position > self.head


MAX_TRACKING_NAME_BYTES = 256
TRACKING_PREFIX = "$tracking-"
"""Permissions name a tracking record ``$tracking-<name>``: writing it needs ``write``, and
reading it ``read``, on that name (the ``writer`` role covers every one)."""


@attrs.frozen(slots=True)
class Tracking:
    """ "Consumer ``name`` has processed the log up to ``position``", appended in the same
    atomic append as the events it wrote in reaction (a process manager's, a saga's), so a
    crash never repeats or loses a reaction. A name's positions only grow: an append whose
    tracking is not beyond the recorded one is refused (``TrackingConflict``), writing nothing."""

    name: str
    position: int


def tracking_covers(recorded: int | None, position: int) -> bool:
    """Has a consumer whose tracking record holds ``recorded`` processed ``position``?"""
    return recorded is not None and recorded >= position


@attrs.frozen(kw_only=True, slots=True)
class AppendResult:
    first_position: Position
    last_position: Position
    stream_version: int
    """The version of the (first) stream appended to, after the append. An append of a
    tracking record alone has no stream: 0, and an empty range (``first_position`` is one
    past ``last_position``, the log's head)."""


@attrs.frozen(kw_only=True, slots=True)
class LeaseGrant:
    """A lease on the replicated log: ``owner`` holds ``name`` until ``expires_ms`` of the
    cluster's clock (elapsed leader time, not a wall clock: ``eventlog.state.clock``) unless it
    renews. ``token`` grows with every new holder, so a store that
    keeps the highest token it has seen can refuse a former holder (a fencing token).
    ``checkpoint`` is what the holder last reported (a projection's position). A lease its
    holder ``released`` stays on record, expired, with that checkpoint, so ``status`` still
    lists a projection whose worker stopped."""

    name: str
    owner: str
    token: int
    expires_ms: int
    checkpoint: int = 0
    released: bool = False


@attrs.frozen(kw_only=True, slots=True)
class LeaseStatus:
    """A lease as ``status`` reports it: its grant, and how far its holder lags behind the
    node asked, in events and in seconds since the first event it has not reported."""

    name: str
    owner: str
    token: int
    checkpoint: int
    lag_events: int
    lag_seconds: float
    expired: bool
    """True once the lease no longer holds: it ran out, or its holder released it."""
    stopped: bool = False
    """Its holder released it: the worker stopped (SIGTERM, a poison event, an error)."""


@attrs.frozen(kw_only=True, slots=True)
class Alarm:
    """Why a node does not serve as it should: ``corrupt`` (its store differs from what it
    wrote or from its peers'; it takes no part until replaced) or ``nospace`` (its disk or
    its quota is full; appends are refused, reads go on)."""

    kind: str
    detail: str


@attrs.frozen(kw_only=True, slots=True)
class NodeStatus:
    """One node, as ``eventraft status`` shows it. Two nodes at the same ``last_position`` with
    the same ``digest`` (a hash chained over every applied event) hold the same history."""

    id: int
    role: str
    term: int
    leader: int
    """The leader this node knows of; 0 if none."""
    commit_index: int
    last_index: int
    applied_index: int
    last_position: int
    digest: str
    """Hex of the digest after the event at ``last_position``."""
    leases: tuple[LeaseStatus, ...] = ()
    cluster_id: str = ""
    """The cluster the node belongs to."""
    alarms: tuple[Alarm, ...] = ()
    """Raised on this node, if any."""
    voters: tuple[int, ...] = ()
    """The voters of the configuration this node holds (the latest in its log)."""
    learners: tuple[int, ...] = ()
    """The learners of that configuration: they receive the log and serve reads only."""


@attrs.frozen(kw_only=True, slots=True)
class Configuration:
    """Who the cluster is after a membership change: its voters, its learners, and where
    each listens (``host:port`` by id)."""

    voters: tuple[int, ...]
    learners: tuple[int, ...]
    addresses: dict[int, str] = attrs.field(factory=dict, hash=False)


@attrs.frozen(kw_only=True, slots=True)
class MemberStatus:
    """One member of the cluster as its leader sees it (``eventraft member list``)."""

    id: int
    address: str
    """Where it listens, ``host:port``."""
    role: str
    """``voter`` or ``learner``."""
    match_index: int
    """The last log entry the leader knows it holds."""
    lag: int
    """Entries it lacks behind the leader's log."""


MANIFEST = "manifest.json"
"""The file beside a backup's ``data.mdb`` that says what it holds."""


@attrs.frozen(kw_only=True)
class Manifest:
    """What one copy holds, read in the transaction it was taken in."""

    cluster_id: str
    node_id: int
    """The node the copy was taken from."""
    applied_index: int
    last_index: int
    last_position: int
    digest: str
    """Hex of the digest after the event at ``last_position``."""
    format: int = 0
    """The store format of the copy."""
    taken_ms: int = 0
    """Wall-clock time the copy was taken, in ms since the epoch."""

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError) as error:
            raise DataDirError(where, f"{MANIFEST} is not a manifest: {error}") from None


@attrs.frozen(kw_only=True, slots=True)
class UserInfo:
    """A user as ``eventraft user list`` shows it: never its password, only whether it has one
    (a user without signs in by client certificate only)."""

    name: str
    roles: tuple[str, ...]
    password: bool


@attrs.frozen(kw_only=True, slots=True)
class RoleInfo:
    """A role: its permissions as ``(action, prefix)`` pairs; a prefix covers the stream or
    lease names that start with it, "" every name (``read`` on "" reads the whole log)."""

    name: str
    permissions: tuple[tuple[str, str], ...]
    builtin: bool = False


@attrs.frozen(kw_only=True, slots=True)
class Access:
    """The cluster's users and roles (built-in ones first)."""

    users: tuple[UserInfo, ...]
    roles: tuple[RoleInfo, ...]
