"""Applying committed entries: expected versions, positions, versions, idempotency, digest.

Every node applies the same committed entries in the same order, so everything decided here
must be a pure function of (state before, entry): no clock, no randomness, no dict/set order
that could differ between nodes. The state is read through ``StateView`` (``store.applied``
over LMDB on a node, ``state.memory.MemoryState`` in the simulator and in tests, which apply
these same functions) and every change goes into a ``WriteSet``, which the caller writes in
one transaction together with the applied index. The ``WriteSet`` is also an
overlay: later requests of the same entry, and later entries of the same apply call, see the
effects of earlier ones before anything is written.
"""

from __future__ import annotations

import struct
from hashlib import blake2b
from typing import Any, Protocol

import attrs

from eventlog.errors import (
    AccessChangeRefused,
    CorruptRecord,
    LeaseHeld,
    TrackingConflict,
    WrongExpectedVersion,
)
from eventlog.protocol.requests import (
    KIND_ACCESS,
    KIND_APPEND,
    KIND_CLUSTER,
    KIND_LEASE,
    LEASE_RELEASE,
)
from eventlog.records import ANY, AppendResult, LeaseGrant
from eventlog.security import access
from eventlog.state.batch import decode_batch
from eventlog.state.outcomes import AccessChanged, ClusterNamed, Outcome
from eventlog.types import LogIndex, Position

__all__ = [
    "DIGEST_BYTES",
    "INITIAL_DIGEST",
    "REQUEST_RETENTION_MS",
    "IndexedEvent",
    "StateView",
    "WriteSet",
    "apply_entry",
    "chain_digest",
    "event_id",
]

DIGEST_BYTES = 32
INITIAL_DIGEST = bytes(DIGEST_BYTES)
"""The digest of an empty history; each applied event chains onto the previous digest."""

_Q = struct.Struct(">Q").pack
_I = struct.Struct(">I").pack
_MS_MASK = (1 << 48) - 1
_RAND_B_MASK = (1 << 62) - 1
_UUID_FIXED = (0x7 << 76) | (0b10 << 62)
"""Version nibble 7 and variant bits 0b10 of a UUIDv7, in place in the 128-bit integer."""

_KINDS = (KIND_APPEND, KIND_LEASE, KIND_CLUSTER, KIND_ACCESS)
REQUEST_RETENTION_MS = 3_600_000
"""How long a request id is remembered: a retry within an hour (of the cluster's clock, the
elapsed leader time of ``eventlog.state.clock``) gets the first outcome back. Part of the state
machine, so the same on every node; a node may drop expired rows whenever it likes."""

IndexedEvent = tuple[int, str, int, int, int]
"""``(position, stream, version, log_index, ordinal)`` of one applied event.

A plain tuple of ints, not a class: one is built per event on the hot path. ``ordinal`` is the
event's 0-based place among all events of its entry's batch (failed requests included), which
is how a reader finds the event's bytes inside the stored entry; they are never stored twice.
"""


class StateView(Protocol):
    """Read side of the applied state, as of the last committed apply."""

    def stream_version(self, stream: str) -> int:
        """Number of events in ``stream``; 0 if it does not exist."""
        ...

    def request_outcome(self, request_id: bytes) -> Outcome | None: ...

    def last_position(self) -> Position: ...

    def digest(self) -> bytes: ...

    def clock_ms(self) -> int:
        """The cluster's clock: the highest batch ``clock_ms`` applied so far (0 before)."""
        ...

    def lease(self, name: str) -> LeaseGrant | None:
        """The lease last granted under ``name`` (maybe expired), None if none or released."""
        ...

    def lease_token(self) -> int:
        """The highest fencing token granted so far (0 before the first)."""
        ...

    def cluster_id(self) -> str:
        """The cluster's id; empty until a cluster started without one is named."""
        ...

    def access(self) -> access.AccessState:
        """The users and roles (``access.DEFAULT_ACCESS`` before any change)."""
        ...

    def tracking(self, name: str) -> int | None:
        """The position tracking record ``name`` holds; None before its first."""
        ...


@attrs.define
class WriteSet:
    """Everything one apply call changes, in application order; an overlay over the view.

    Invariant: ``events`` positions are dense and ascending, ending at ``last_position``;
    ``stream_versions`` holds the new head of every stream touched.
    """

    last_position: Position
    digest: bytes
    clock_ms: int = 0
    lease_token: int = 0
    cluster_id: str = ""
    access: access.AccessState = access.DEFAULT_ACCESS
    """The auth store after this apply; the view's own object unless a change applied."""
    events: list[IndexedEvent] = attrs.field(factory=list)
    stream_versions: dict[str, int] = attrs.field(factory=dict)
    outcomes: dict[bytes, Outcome] = attrs.field(factory=dict)
    leases: dict[str, LeaseGrant | None] = attrs.field(factory=dict)
    """Leases granted, renewed (a grant) or released (None)."""
    tracking: dict[str, int] = attrs.field(factory=dict)
    """Tracking records written, by name: the position each holds now."""

    @classmethod
    def over(cls, view: StateView) -> WriteSet:
        """An empty write set that continues the view's position and digest."""
        return cls(
            last_position=view.last_position(),
            digest=view.digest(),
            clock_ms=view.clock_ms(),
            lease_token=view.lease_token(),
            cluster_id=view.cluster_id(),
            access=view.access(),
        )

    def stream_version(self, view: StateView, stream: str) -> int:
        version = self.stream_versions.get(stream)
        return view.stream_version(stream) if version is None else version

    def lease(self, view: StateView, name: str) -> LeaseGrant | None:
        return self.leases[name] if name in self.leases else view.lease(name)

    def tracked(self, view: StateView, name: str) -> int | None:
        position = self.tracking.get(name)
        return view.tracking(name) if position is None else position

    def request_outcome(self, view: StateView, request_id: bytes) -> Outcome | None:
        """The remembered outcome of ``request_id``, unless it has expired."""
        outcome = self.outcomes.get(request_id)
        if outcome is None:
            outcome = view.request_outcome(request_id)
        if outcome is None or outcome.applied_ms < self.clock_ms - REQUEST_RETENTION_MS:
            return None
        return outcome


def apply_entry(view: StateView, writes: WriteSet, index: LogIndex, data: bytes) -> list[Outcome]:
    """Apply one committed entry's batch on top of ``view`` + ``writes``; one outcome per
    request, in batch order. Raises ``CorruptRecord`` if the entry does not decode.

    Requests were checked field by field (``protocol.requests.check_request``) before they
    were proposed, so applying them checks only what it touches: a malformed request can only
    come from a corrupt entry, and raises the same ``CorruptRecord`` on every node."""
    outcomes: list[Outcome] = []
    ordinal = 0
    batch = decode_batch(data)
    counts = batch.event_counts()
    # The cluster's clock only moves forward, so what expired stays expired on every node.
    writes.clock_ms = max(writes.clock_ms, batch.clock_ms)
    for raw in batch.requests:
        try:
            if len(raw) == 4:  # an append that carries a tracking record
                kind, request_id, body, tracking = raw
            else:
                kind, request_id, body = raw
                tracking = None
            if kind not in _KINDS or not isinstance(request_id, bytes):
                raise ValueError(f"unknown request kind {kind!r}")
            outcome = writes.request_outcome(view, request_id)
            if outcome is None:
                if kind == KIND_LEASE:
                    outcome = _apply_lease(view, writes, request_id, body)
                elif kind == KIND_CLUSTER:
                    outcome = _name_cluster(writes, request_id, body)
                elif kind == KIND_ACCESS:
                    outcome = _change_access(writes, request_id, body)
                else:
                    outcome = _apply_request(
                        view, writes, index, request_id, body, ordinal, tracking
                    )
                writes.outcomes[request_id] = outcome
            events = sum(len(e) for _, _, e in body) if kind == KIND_APPEND else 0
            if counts is not None and counts[len(outcomes)] != events:
                raise ValueError(f"its span says {counts[len(outcomes)]} events, not {events}")
            ordinal += events  # the numbering ``batch.events_in_order`` reads back
        except (TypeError, ValueError, AttributeError, UnicodeError) as error:
            raise CorruptRecord("entry", index, f"request {len(outcomes)}: {error}") from error
        outcomes.append(outcome)
    return outcomes


def _name_cluster(writes: WriteSet, request_id: bytes, body: list[Any]) -> Outcome:
    """The first request to name the cluster names it, on every node alike."""
    if not writes.cluster_id:
        writes.cluster_id = body[0]
    named = ClusterNamed(cluster_id=writes.cluster_id)
    return Outcome(request_id=request_id, result=named, applied_ms=writes.clock_ms)


def _change_access(writes: WriteSet, request_id: bytes, body: list[Any]) -> Outcome:
    """Users and roles change as one value: a refused change leaves it as it was."""
    try:
        writes.access = access.change(writes.access, body)
    except AccessChangeRefused as refused:
        return Outcome(request_id=request_id, error=refused, applied_ms=writes.clock_ms)
    changed = AccessChanged(op=body[0], name=body[1])
    return Outcome(request_id=request_id, result=changed, applied_ms=writes.clock_ms)


def _apply_request(
    view: StateView,
    writes: WriteSet,
    index: LogIndex,
    request_id: bytes,
    appends: list[Any],
    ordinal: int,
    tracking: list[Any] | None = None,
) -> Outcome:
    """Check the tracking record and every expected version before writing, so a conflict
    writes nothing of it."""
    if tracking is not None:
        name, position = tracking
        if not isinstance(name, str) or type(position) is not int:  # alike on every store
            raise ValueError(f"a tracking record is [name, position], not {tracking!r:.60}")
        recorded = writes.tracked(view, name)
        if recorded is not None and recorded >= position:
            conflict = TrackingConflict(name, position, recorded)
            return Outcome(request_id=request_id, error=conflict, applied_ms=writes.clock_ms)
    versions: list[int] = []
    for stream, expected, _ in appends:
        actual = writes.stream_version(view, stream)
        if expected != ANY and expected != actual:
            error = WrongExpectedVersion(stream, expected, actual)
            return Outcome(request_id=request_id, error=error, applied_ms=writes.clock_ms)
        versions.append(actual)
    first = Position(writes.last_position + 1)
    _append_events(writes, index, appends, versions, ordinal)
    if tracking is not None:
        writes.tracking[tracking[0]] = tracking[1]
    result = AppendResult(
        first_position=first,
        last_position=writes.last_position,
        stream_version=writes.stream_versions[appends[0][0]] if appends else 0,
    )
    return Outcome(request_id=request_id, result=result, applied_ms=writes.clock_ms)


def _apply_lease(view: StateView, writes: WriteSet, request_id: bytes, body: list[Any]) -> Outcome:
    """Grant, renew or release a lease by the cluster clock. A holder that renews before
    expiry keeps its token; any new grant takes a token larger than every earlier one."""
    op, name, owner, ttl_ms, value = body
    now = writes.clock_ms
    current = writes.lease(view, name)
    held = current is not None and current.expires_ms > now
    if op == LEASE_RELEASE:
        if current is not None and (current.owner, current.token) == (owner, value):
            expires_ms = min(current.expires_ms, now)
            writes.leases[name] = attrs.evolve(current, expires_ms=expires_ms, released=True)
        released = LeaseGrant(name=name, owner=owner, token=value, expires_ms=now)
        return Outcome(request_id=request_id, result=released, applied_ms=now)
    if held and current is not None and current.owner != owner:
        error = LeaseHeld(name, current.owner, current.expires_ms)
        return Outcome(request_id=request_id, error=error, applied_ms=now)
    if held and current is not None:
        token = current.token
    else:
        writes.lease_token += 1
        token = writes.lease_token
    grant = LeaseGrant(
        name=name, owner=owner, token=token, expires_ms=now + ttl_ms, checkpoint=value
    )
    writes.leases[name] = grant
    return Outcome(request_id=request_id, result=grant, applied_ms=now)


def _append_events(
    writes: WriteSet, index: LogIndex, appends: list[Any], versions: list[int], ordinal: int
) -> None:
    """The hot loop: one digest and one tuple per event, with the digest inlined (see
    ``chain_digest`` for the readable form; a test keeps the two equal)."""
    position: int = writes.last_position
    digest = writes.digest
    events = writes.events
    for (stream, _, new_events), version in zip(appends, versions, strict=True):
        encoded = stream.encode()
        stream_lp = _I(len(encoded)) + encoded
        for event_type, data, metadata in new_events:
            position += 1
            version += 1
            kind = event_type.encode()
            digest = blake2b(
                b"".join(
                    (digest, _Q(position), stream_lp, _Q(version), _I(len(kind)), kind,
                     _I(len(data)), data, _I(len(metadata)), metadata)
                ),
                digest_size=DIGEST_BYTES,
            ).digest()  # fmt: skip
            events.append((position, stream, version, index, ordinal))
            ordinal += 1
        writes.stream_versions[stream] = version
    writes.last_position, writes.digest = Position(position), digest


def chain_digest(
    prev: bytes, position: int, stream: str, version: int, type: str, data: bytes, metadata: bytes
) -> bytes:
    """The digest after one more event: blake2b-256 over the previous digest and the event's
    length-prefixed fields, so equal digests at equal positions mean equal histories."""
    return blake2b(
        prev
        + _Q(position)
        + _lp(stream.encode())
        + _Q(version)
        + _lp(type.encode())
        + _lp(data)
        + _lp(metadata),
        digest_size=DIGEST_BYTES,
    ).digest()


def _lp(value: bytes) -> bytes:
    return _I(len(value)) + value


def event_id(timestamp_ms: int, position: int) -> bytes:
    """A UUIDv7 every node derives alike: the batch's ms timestamp, then the position split
    over rand_a (12 bits) and rand_b (62 bits), so ids are unique per position and sort by
    time, then position."""
    value = (
        ((timestamp_ms & _MS_MASK) << 80)
        | _UUID_FIXED
        | (((position >> 62) & 0xFFF) << 64)
        | (position & _RAND_B_MASK)
    )
    return value.to_bytes(16, "big")
