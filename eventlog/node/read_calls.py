"""The calls that read: pages of the log and of a stream, subscriptions pushed as the log
grows, the leases, the head and the status. Reads are linearizable by default (ReadIndex on
the leader); ``min_position`` reads any member once it has applied that far. A page that lies
wholly within what this node has applied (a full page below its head: a catch-up read of old
history) is answered at once, with no ReadIndex round: committed history never changes."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from eventlog.errors import InvalidRequest, Unavailable
from eventlog.protocol import answers, reads
from eventlog.protocol.requests import check_tracking_name
from eventlog.records import TRACKING_PREFIX, EventFilter, Page, RecordedEvent
from eventlog.security.permissions import Action
from eventlog.store.reads import SCAN_POSITIONS, Tail

if TYPE_CHECKING:
    from eventlog.node.server import ClientSession

__all__ = [
    "MAX_SUBSCRIPTIONS_PER_CONNECTION",
    "head",
    "leases",
    "read_all",
    "read_page",
    "read_stream",
    "read_stream_backwards",
    "status",
    "subscribe",
    "tracking",
]

MAX_SUBSCRIPTIONS_PER_CONNECTION = 16
"""Subscriptions one client connection may hold at once (a client opens one connection per
subscription); with ``SUBSCRIPTION_BATCH_BYTES`` it bounds what a connection can pile up."""


async def _read_barrier(
    session: ClientSession,
    args: dict[str, Any],
    stream: str | None = None,
    *,
    settled: bool = False,
) -> None:
    """``_barrier``, then the caller's ``read`` permission on ``stream`` (None: the whole
    log), in the auth store as of the read: a user removed or a role revoked before the read
    is refused even by a follower that applied the change only just now."""
    await _barrier(session, args, settled=settled)
    session.allow(Action.READ, stream)


async def _barrier(session: ClientSession, args: dict[str, Any], *, settled: bool = False) -> None:
    """Linearizable by default (ReadIndex on the leader); ``min_position`` reads anywhere.
    A ``settled`` read needs no ReadIndex: all it can answer is history this node has
    applied, which never changes once committed, so any member answers it as the leader
    would, at once (etcd's serializable reads, without their staleness)."""
    node = session.node
    min_position = reads.check_min_position(args.get("min_position"))
    if min_position is not None:
        try:  # a position that may never come: answer within the read timeout, not never
            async with asyncio.timeout(node.read_timeout):
                await node.wait_position(int(min_position))
        except TimeoutError:
            raise Unavailable(
                f"position {min_position} not reached within {node.read_timeout:g}s"
            ) from None
    elif args.get("linearizable", True) and not settled:
        await node.read_barrier()


def _allow_filtered(session: ClientSession, filter: EventFilter | None) -> None:
    """A read of the log needs ``read`` on the whole of it, unless its filter names stream
    prefixes: every event it can return is of a stream that starts with one of them, so
    ``read`` on each is enough (a user who reads ``orders-`` reads its category)."""
    if filter is None or not filter.streams:
        session.allow(Action.READ)
        return
    for prefix in filter.streams:
        session.allow(Action.READ, prefix)


async def read_all(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    asked = reads.ReadAll.from_args(args)
    read = reads.page_of(asked, asked.limit)
    storage = session.node.storage
    settled = read.from_position + _most(read.limit) - 1 <= storage.last_position()
    await _read_barrier(session, args, settled=settled)
    count = min(_most(read.limit), storage.last_position() - read.from_position + 1)
    return await session.read(
        count, lambda: _page(storage.read_all(read.from_position, read.limit))
    )


async def read_page(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    """A read through a filter, answered as a page: what the filter kept, where the read
    goes on and the head. A page whose whole scan lies below the head is settled."""
    read = reads.ReadPage.from_args(args)
    storage = session.node.storage
    scan = SCAN_POSITIONS if read.filter is not None else _most(read.limit)
    settled = read.from_position + scan - 1 <= storage.last_position()
    await _barrier(session, args, settled=settled)
    _allow_filtered(session, read.filter)
    count = min(_most(read.limit), storage.last_position() - read.from_position + 1)
    return await session.read(
        count,
        lambda: answers.pack_page(storage.read_page(read.from_position, read.limit, read.filter)),
    )


async def read_stream(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    asked = reads.ReadStream.from_args(args)
    read = reads.page_of(asked, asked.limit)
    storage = session.node.storage
    last = read.from_version + _most(read.limit) - 1
    settled = last <= storage.stream_version(read.stream)
    await _read_barrier(session, args, read.stream, settled=settled)
    return await session.read(
        _most(read.limit),
        lambda: _page(storage.read_stream(read.stream, read.from_version, read.limit)),
    )


async def read_stream_backwards(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    asked = reads.ReadStreamBackwards.from_args(args)
    read = reads.page_of(asked, asked.limit)
    storage = session.node.storage
    settled = read.from_version is not None and read.from_version <= storage.stream_version(
        read.stream
    )
    await _read_barrier(session, args, read.stream, settled=settled)
    return await session.read(
        _most(read.limit),
        lambda: _page(storage.read_stream_backwards(read.stream, read.from_version, read.limit)),
    )


def _most(limit: int | None) -> int:
    """Events one page of a read may hold."""
    return reads.READ_PAGE_EVENTS if limit is None else limit


def _page(events: list[RecordedEvent]) -> list[Any]:
    """One page of an answer: at most ``READ_PAGE_EVENTS`` events (the read asked that many at
    most) and about ``READ_PAGE_BYTES``; the client asks for the rest."""
    reads.within_page(events)
    return [answers.pack_event(event) for event in events]


async def subscribe(session: ClientSession, call_id: int, args: dict[str, Any]) -> Any:
    """Push committed events from ``from_position`` on, forever; TCP backpressure paces it.
    A connection holds a bounded number, so one that never reads buffers a bounded amount.
    Each batch is checked against the caller's permissions as they stand when it goes."""
    node = session.node
    asked = reads.Subscribe.from_args(args)
    tail = Tail(node.storage.read_page, asked.from_position, asked.filter)
    if session.subscriptions >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
        raise InvalidRequest(
            f"a connection may hold {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions at most"
        )
    _allow_filtered(session, asked.filter)
    session.subscriptions += 1
    try:
        while True:
            waiting = node.storage.last_position() - tail.position + 1
            if waiting <= 0:
                await node.wait_position(tail.position)
                continue
            page, due = await session.read(waiting, tail.next_page)
            if due:
                _allow_filtered(session, asked.filter)  # revoked since: it ends, refused
                session.send([call_id, *_pushed(page, asked.filter)])
                if not await _drained(session, node.config.subscriber_stall):
                    return None
    finally:
        session.subscriptions -= 1


def _pushed(page: Page, filter: EventFilter | None) -> tuple[str, Any]:
    """A page as it is pushed: its events alone (a subscription without a filter, as it
    always was), or with where the filter has looked to (``answers.pack_page``)."""
    if filter is None:
        return "events", [answers.pack_event(event) for event in page.events]
    return "page", answers.pack_page(page)


async def _drained(session: ClientSession, stall: float) -> bool:
    """A subscriber that reads nothing is paused (the node waits for its socket to drain);
    one that reads nothing for ``stall`` seconds is dropped: its connection closed, the
    reason logged, so that it holds no buffer and no reader of the node's for good."""
    try:
        async with asyncio.timeout(stall):
            await session.drain()
        return True
    except TimeoutError:
        session.node.logger.warning(
            "subscriber_dropped",
            peer=str(session.writer.get_extra_info("peername")),
            reason=f"it read nothing for {stall:g}s",
        )
        session.writer.transport.abort()
        return False


async def leases(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    """The leases the caller may take (a worker's role covers its own projections')."""
    await _barrier(session, args)
    access, principal = session.node.storage.access, session.principal
    return [
        answers.pack_lease(grant)
        for grant in session.node.storage.leases()
        if principal.allows(access, Action.LEASE, grant.name)
    ]


async def tracking(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    """The position a tracking record holds (None before its first), read as the head is;
    it needs ``read`` on ``$tracking-<name>``."""
    name = check_tracking_name(args.get("name"))
    await _read_barrier(session, args, TRACKING_PREFIX + name)
    return session.node.storage.tracking(name)


async def status(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    return answers.pack_status(session.node.status())


async def head(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    """The position of the last event applied here, after a read barrier (what a reader of
    the log needs to know how far there is to go; no status needed). Anyone who may read some
    streams may ask: the positions of their events say as much."""
    await _barrier(session, args)
    if not session.principal.reads_any(session.node.storage.access):
        session.allow(Action.READ)
    return session.node.storage.last_position()
