"""A client's request, in the one form it takes from the client to the Raft entry.

A request is a plain msgpack list, built and encoded once by the client, checked once by the
node, and batched into an entry in the bytes it came in (``eventlog.state.batch``):

    request = [KIND_APPEND, request_id(16 bytes), [[stream, expected_version,
               [[type, data, metadata], ...]], ...]]
            | [KIND_APPEND, request_id, [...], [tracking_name, position]]
            | [KIND_LEASE, request_id, [op, name, owner, ttl_ms, value]]
            | [KIND_CLUSTER, request_id, [cluster_id]]
            | [KIND_ACCESS, request_id, [op, name, argument]]

An append may carry a tracking record (``records.Tracking``), applied with its events or, with
no stream at all, alone. A lease request acquires or renews (``LEASE_ACQUIRE``, value = the
holder's checkpoint) or releases (``LEASE_RELEASE``, value = the token) a named lease; see
``eventlog.state.machine``.
An access request changes the auth store (``eventlog.security.access``); only a node makes
one, with a password already hashed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import attrs
import msgpack

from eventlog.errors import EventTooLarge, InvalidRequest
from eventlog.protocol.hello import MAX_CLUSTER_ID_CHARS
from eventlog.protocol.reads import check_stream_name
from eventlog.records import (
    ANY,
    MAX_NUMBER,
    MAX_TRACKING_NAME_BYTES,
    MAX_TYPE_BYTES,
    NewEvent,
    Tracking,
)
from eventlog.security.access import check_change

__all__ = [
    "APPENDS_PER_SLICE",
    "DEFAULT_MAX_APPEND_BYTES",
    "KIND_ACCESS",
    "KIND_APPEND",
    "KIND_CLUSTER",
    "KIND_LEASE",
    "LEASE_ACQUIRE",
    "LEASE_RELEASE",
    "MAX_APPENDS_PER_FRAME",
    "MAX_LEASE_NAME_BYTES",
    "MAX_LEASE_TTL_MS",
    "REQUEST_ID_BYTES",
    "CheckedRequest",
    "access_request",
    "acquire_lease_request",
    "check_client_request",
    "check_request",
    "check_size",
    "check_tracking",
    "check_tracking_name",
    "cluster_id_request",
    "encode",
    "new_request",
    "new_request_id",
    "release_lease_request",
    "tracking_of",
]

KIND_APPEND = 1
KIND_LEASE = 2
KIND_CLUSTER = 3
"""Names a cluster that was started without an id; only its first leader proposes one."""
KIND_ACCESS = 4
"""Changes the users and roles; made by a node, never taken as a client sent it."""
LEASE_ACQUIRE = 1
LEASE_RELEASE = 2
REQUEST_ID_BYTES = 16
MAX_LEASE_NAME_BYTES = 256
MAX_LEASE_TTL_MS = 86_400_000
MAX_APPENDS_PER_FRAME = 10_000
"""Appends one ``append_batch`` frame may carry."""
APPENDS_PER_SLICE = 256
"""Appends checked in one turn of a node's loop, and carried by one frame a client sends:
checking one costs tens of microseconds, so a slice stays well inside a heartbeat interval."""
DEFAULT_MAX_APPEND_BYTES = 1 << 20
"""The largest append a cluster takes unless configured otherwise (KurrentDB's limit too).
Raft replicates an entry whole, so a large one holds up the heartbeats and acknowledgements
queued behind it; 1 MiB crosses a 100 Mbit/s link in a tenth of the shortest election
timeout, and an event store's events are far smaller (store blobs beside it, not in it)."""


def new_request_id() -> bytes:
    """16 bytes: the clock in milliseconds, then 80 random bits. Ids made at about the same
    time sort together, so the requests table takes each batch's ids into a few B-tree pages
    at its end instead of dirtying a random page per request (which made every apply commit
    write and fsync hundreds of kilobytes)."""
    return (time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10)


def new_request(
    appends: Iterable[tuple[str, Iterable[NewEvent], int]],
    request_id: bytes | None = None,
    tracking: Tracking | None = None,
) -> CheckedRequest:
    """Build and check one append call in the form it travels in (built once: it is what the
    client sends and what the leader batches); a fresh random request id unless one is given."""
    try:
        fields: list[Any] = [
            KIND_APPEND,
            request_id or new_request_id(),
            [
                [stream, expected, [[e.type, e.data, e.metadata] for e in events]]
                for stream, events, expected in appends
            ],
        ]
    except (AttributeError, TypeError, ValueError) as error:
        raise InvalidRequest(f"appends are (stream, [NewEvent, ...], expected): {error}") from error
    if tracking is not None:
        if not isinstance(tracking, Tracking):
            raise InvalidRequest(f"tracking must be a Tracking(name, position), not {tracking!r}")
        fields.append([tracking.name, tracking.position])
    return check_request(fields)


def tracking_of(fields: list[Any]) -> Tracking | None:
    """The tracking record a checked request carries, if any."""
    if fields[0] != KIND_APPEND or len(fields) < 4:
        return None
    name, position = fields[3]
    return Tracking(name, position)


def acquire_lease_request(name: str, owner: str, ttl: float, checkpoint: int) -> CheckedRequest:
    """Grant or renew ``name`` to ``owner`` for ``ttl`` seconds of the cluster's clock (at
    least a millisecond), recording the holder's ``checkpoint``."""
    ttl_ms = max(1, int(ttl * 1000))
    return _lease_request([LEASE_ACQUIRE, name, owner, ttl_ms, checkpoint])


def release_lease_request(name: str, owner: str, token: int) -> CheckedRequest:
    """Give ``name`` up, if ``owner`` still holds it with ``token``."""
    return _lease_request([LEASE_RELEASE, name, owner, 1, token])


def _lease_request(body: list[Any]) -> CheckedRequest:
    return check_request([KIND_LEASE, new_request_id(), body])


@attrs.frozen(slots=True)
class CheckedRequest:
    """A request checked once, with the bytes it travels in: the node batches ``encoded`` as
    it came, so an event's bytes are never rebuilt between the client and the Raft entry."""

    request_id: bytes
    fields: list[Any]
    size: int
    events: int
    """How many events it appends (0 for a lease, ...): the batch's spans say so."""
    encoded: bytes = attrs.field(repr=False)
    """The msgpack encoding of ``fields``, as the client made it."""


def check_size(request: CheckedRequest, limit: int) -> None:
    """``EventTooLarge`` if ``request`` is larger than ``limit`` bytes."""
    if request.size > limit:
        raise EventTooLarge(request.size, limit)


def check_request(raw: Any, encoded: bytes | None = None) -> CheckedRequest:
    """Check a request as it travels (what a client sent, or a request of a stored batch)
    without building objects per event; raises ``InvalidRequest`` naming what is wrong.
    ``encoded`` is the bytes ``raw`` was decoded from (it is encoded here if not given)."""
    size, events = _check_fields(raw)
    encoded = encoded if encoded is not None else encode(raw)
    return CheckedRequest(raw[1], raw, size, events, encoded)


def encode(fields: list[Any]) -> bytes:
    """A request's bytes, as they travel and as an entry holds them."""
    packed: bytes = msgpack.packb(fields, use_bin_type=True)
    return packed


def _check_fields(raw: Any) -> tuple[int, int]:
    """The bytes a request counts against the size limit (a fixed charge for all but
    appends), and the events it appends."""
    if (
        not isinstance(raw, list)
        or len(raw) not in (3, 4)
        or (len(raw) == 4 and raw[0] != KIND_APPEND)
    ):
        raise InvalidRequest(
            "a request is [kind, request_id, body], an append maybe [..., tracking]"
        )
    kind, request_id, body = raw[:3]
    if not isinstance(request_id, bytes) or len(request_id) != REQUEST_ID_BYTES:
        raise InvalidRequest(f"request id must be {REQUEST_ID_BYTES} bytes")
    if kind == KIND_CLUSTER:
        _check_cluster(body)
        return 64, 0
    if kind == KIND_LEASE:
        _check_lease(body)
        return 64, 0
    if kind == KIND_ACCESS:
        check_change(body)
        return 512, 0
    if kind != KIND_APPEND:
        raise InvalidRequest(f"unknown request kind {kind!r}")
    appends = body
    tracked = len(raw) == 4
    if tracked:
        check_tracking(raw[3])
    if not isinstance(appends, list) or not (appends or tracked):
        raise InvalidRequest("an append names at least one stream (or carries a tracking record)")
    seen: set[str] = set()
    size = count = 0
    for append in appends:
        if not isinstance(append, list) or len(append) != 3:
            raise InvalidRequest("a stream append is [stream, expected_version, events]")
        name, expected, events = append
        check_stream_name(name)
        if name in seen:
            raise InvalidRequest(f"stream {name!r:.60} appears twice in one append")
        seen.add(name)
        if type(expected) is not int or not ANY <= expected <= MAX_NUMBER:
            raise InvalidRequest(f"expected_version {expected!r} for {name!r}")
        if not isinstance(events, list) or not events:
            raise InvalidRequest(f"no events to append to {name!r}")
        for event in events:
            if not isinstance(event, list) or len(event) != 3:
                raise InvalidRequest(f"an event of {name!r} is not [type, data, metadata]")
            event_type, data, metadata = event
            if (
                not isinstance(event_type, str)
                or not event_type
                or len(event_type.encode()) > MAX_TYPE_BYTES
            ):
                raise InvalidRequest(
                    f"event type must be 1..{MAX_TYPE_BYTES} bytes: {event_type!r:.40}"
                )
            if not isinstance(data, bytes) or not isinstance(metadata, bytes):
                raise InvalidRequest(f"event data and metadata must be bytes ({event_type})")
            size += len(data) + len(metadata) + 32
        count += len(events)
    return size, count


def check_client_request(raw: Any) -> CheckedRequest:
    """A request as a client may send it: an append or a lease, encoded by the client (a
    list, as clients before encoded requests sent them, is taken too). Naming the cluster,
    and changing users with passwords hashed, are the nodes' own business."""
    if isinstance(raw, bytes):
        try:
            fields = msgpack.unpackb(raw, raw=False, strict_map_key=True)
        except (ValueError, TypeError, msgpack.UnpackException) as error:
            raise InvalidRequest(f"the request does not decode: {error}") from None
        request = check_request(fields, raw)
    else:
        request = check_request(raw)
    if request.fields[0] == KIND_CLUSTER:
        raise InvalidRequest("clients may not name the cluster")
    if request.fields[0] == KIND_ACCESS:
        raise InvalidRequest("users and roles change through the access operation")
    return request


def access_request(body: list[Any], request_id: bytes | None = None) -> CheckedRequest:
    """A change of the auth store, as a node proposes it (``eventlog.security.access``)."""
    return check_request([KIND_ACCESS, request_id or new_request_id(), body])


def cluster_id_request(cluster_id: str) -> CheckedRequest:
    """The request that names the cluster (the first one applied wins)."""
    return check_request([KIND_CLUSTER, new_request_id(), [cluster_id]])


def check_tracking(raw: Any) -> None:
    """``[name, position]``: a name of 1..``MAX_TRACKING_NAME_BYTES`` bytes, a position in
    0..``MAX_NUMBER``."""
    if not isinstance(raw, list) or len(raw) != 2:
        raise InvalidRequest("a tracking record is [name, position]")
    name, position = raw
    check_tracking_name(name)
    if type(position) is not int or not 0 <= position <= MAX_NUMBER:
        raise InvalidRequest(f"tracking position must be an int in 0..{MAX_NUMBER}: {position!r}")


def check_tracking_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name.encode()) > MAX_TRACKING_NAME_BYTES:
        raise InvalidRequest(
            f"a tracking name must be 1..{MAX_TRACKING_NAME_BYTES} bytes: {name!r:.40}"
        )
    return name


def _check_cluster(body: Any) -> None:
    if not isinstance(body, list) or len(body) != 1:
        raise InvalidRequest("a cluster request is [cluster_id]")
    (cluster_id,) = body
    if not isinstance(cluster_id, str) or not 0 < len(cluster_id) <= MAX_CLUSTER_ID_CHARS:
        raise InvalidRequest(f"a cluster id is 1..{MAX_CLUSTER_ID_CHARS} characters")


def _check_lease(body: Any) -> None:
    if not isinstance(body, list) or len(body) != 5:
        raise InvalidRequest("a lease request is [op, name, owner, ttl_ms, value]")
    op, name, owner, ttl_ms, value = body
    if op not in (LEASE_ACQUIRE, LEASE_RELEASE) or type(op) is not int:
        raise InvalidRequest(f"unknown lease operation {op!r}")
    for what, text in (("lease name", name), ("lease owner", owner)):
        if not isinstance(text, str) or not text or len(text.encode()) > MAX_LEASE_NAME_BYTES:
            raise InvalidRequest(f"{what} must be 1..{MAX_LEASE_NAME_BYTES} bytes: {text!r:.40}")
    if type(ttl_ms) is not int or not 0 < ttl_ms <= MAX_LEASE_TTL_MS:
        raise InvalidRequest(f"lease ttl must be 1..{MAX_LEASE_TTL_MS} ms, not {ttl_ms!r}")
    if type(value) is not int or not 0 <= value <= MAX_NUMBER:
        raise InvalidRequest(
            f"lease checkpoint or token must be an int in 0..{MAX_NUMBER}, not {value!r}"
        )
