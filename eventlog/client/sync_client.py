"""``Client``: the synchronous client, an ``AsyncClient`` on an event loop of its own in a
background thread.

A call interrupted in the caller's thread (Ctrl-C's ``KeyboardInterrupt``, a ``SystemExit``)
is cancelled in the loop and waited for before the interruption goes on, so it leaves no task
running, no connection half-read and no warning at exit behind it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import sys
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from eventlog.client.async_client import AsyncClient
from eventlog.records import (
    ANY,
    Access,
    AppendResult,
    Configuration,
    EventFilter,
    LeaseGrant,
    MemberStatus,
    NewEvent,
    NodeStatus,
    Page,
    RecordedEvent,
    RoleInfo,
    Tracking,
)
from eventlog.security.tls import TLSConfig

__all__ = [
    "Client",
]

T = TypeVar("T")
CANCEL_GRACE = 5.0
"""Seconds an interrupted call may take to unwind in the loop (closing its connection)."""
_OPEN: weakref.WeakSet[Client] = weakref.WeakSet()
"""Clients not closed yet, which the interpreter's exit closes while their loops still run."""


@atexit.register
def _close_left_open() -> None:
    """A client its program never closed (or left to a finaliser, as ``eventsourcing``'s
    applications do) is closed before the interpreter stops its loop's thread: after, its
    ``close`` could not run and its tasks would be dropped unfinished."""
    for client in list(_OPEN):
        with contextlib.suppress(Exception):
            client.close()


class Client:
    """The synchronous client: an ``AsyncClient`` on an event loop in a background thread."""

    def __init__(
        self,
        addresses: str | Sequence[str],
        timeout: float = 10.0,
        *,
        cluster_id: str | None = None,
        tls: TLSConfig | None = None,
        credentials: tuple[str, str] | None = None,
        insecure: bool = False,
    ) -> None:
        self._async = AsyncClient(
            addresses,
            timeout,
            cluster_id=cluster_id,
            tls=tls,
            credentials=credentials,
            insecure=insecure,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        _OPEN.add(self)

    def _run(self, call: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``call(*args, **kwargs)`` in the loop, waited for here. The awaitable is made in
        the loop thread, so an interruption at any point here leaves none unawaited."""
        finished = threading.Event()
        started: list[asyncio.Future[T]] = []

        def start() -> None:
            task = asyncio.ensure_future(call(*args, **kwargs))
            task.add_done_callback(lambda _: finished.set())
            started.append(task)

        def cancel() -> None:
            # Queued after ``start`` if ``start`` was queued at all.
            if started:
                started[0].cancel()
            else:
                finished.set()

        try:
            self._loop.call_soon_threadsafe(start)
            finished.wait()
        except BaseException:
            self._loop.call_soon_threadsafe(cancel)
            finished.wait(CANCEL_GRACE)
            raise
        return started[0].result()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if sys.is_finalizing() or threading.current_thread() is self._thread:
            # Nothing can wait for the loop: the interpreter is exiting (its daemon threads
            # are stopped), or this is the loop's own thread (the garbage collector closing a
            # client nobody closed). The process's end closes the sockets.
            return
        try:
            self._run(self._shutdown)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=CANCEL_GRACE)
            self._loop.close()

    async def _shutdown(self) -> None:
        """Close the connection, then whatever is still open: a subscription nobody closed,
        a call somebody stopped waiting for."""
        await self._async.close()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_asyncgens()

    def append(
        self,
        stream: str,
        events: Iterable[NewEvent],
        expected_version: int = ANY,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        return self.append_multi(
            [(stream, events, expected_version)], request_id=request_id, tracking=tracking
        )

    def append_multi(
        self,
        appends: Iterable[tuple[str, Iterable[NewEvent], int]],
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        listed = [(s, list(e), v) for s, e, v in appends]
        return self._run(self._async.append_multi, listed, request_id=request_id, tracking=tracking)

    def read_stream(
        self,
        stream: str,
        from_version: int = 1,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        return self._run(
            self._async.read_stream, stream, from_version, limit, min_position=min_position
        )

    def read_stream_backwards(
        self,
        stream: str,
        from_version: int | None = None,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        return self._run(
            self._async.read_stream_backwards,
            stream,
            from_version,
            limit,
            min_position=min_position,
        )

    def read_all(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        return self._run(
            self._async.read_all, from_position, limit, filter=filter, min_position=min_position
        )

    def read_page(
        self,
        from_position: int = 1,
        limit: int | None = None,
        *,
        filter: EventFilter | None = None,
        min_position: int | None = None,
    ) -> Page:
        return self._run(
            self._async.read_page, from_position, limit, filter=filter, min_position=min_position
        )

    def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant:
        return self._run(self._async.acquire_lease, name, owner, ttl, checkpoint=checkpoint)

    def release_lease(self, name: str, owner: str, token: int) -> None:
        self._run(self._async.release_lease, name, owner, token)

    def max_tracking(self, name: str, *, min_position: int | None = None) -> int | None:
        return self._run(self._async.max_tracking, name, min_position=min_position)

    def has_tracking(self, name: str, position: int, *, min_position: int | None = None) -> bool:
        return self._run(self._async.has_tracking, name, position, min_position=min_position)

    def leases(self) -> list[LeaseGrant]:
        return self._run(self._async.leases)

    def status(self) -> NodeStatus:
        return self._run(self._async.status)

    def members(self) -> list[MemberStatus]:
        return self._run(self._async.members)

    def add_member(self, node_id: int, address: str) -> Configuration:
        return self._run(self._async.add_member, node_id, address)

    def promote_member(self, node_id: int) -> Configuration:
        return self._run(self._async.promote_member, node_id)

    def remove_member(self, node_id: int) -> Configuration:
        return self._run(self._async.remove_member, node_id)

    def head(self) -> int:
        return self._run(self._async.head)

    # -- users and roles (``AccessCalls``) -------------------------------------------------------
    def access(self) -> Access:
        return self._run(self._async.access)

    def whoami(self) -> tuple[str, tuple[RoleInfo, ...]]:
        return self._run(self._async.whoami)

    def add_user(self, name: str, password: str | None = None, roles: Iterable[str] = ()) -> None:
        self._run(self._async.add_user, name, password, list(roles))

    def remove_user(self, name: str) -> None:
        self._run(self._async.remove_user, name)

    def set_password(self, name: str, password: str) -> None:
        self._run(self._async.set_password, name, password)

    def grant_role(self, user: str, role: str) -> None:
        self._run(self._async.grant_role, user, role)

    def revoke_role(self, user: str, role: str) -> None:
        self._run(self._async.revoke_role, user, role)

    def add_role(self, name: str, permissions: Iterable[tuple[str, str]] = ()) -> None:
        self._run(self._async.add_role, name, list(permissions))

    def remove_role(self, name: str) -> None:
        self._run(self._async.remove_role, name)

    def grant_permission(self, role: str, action: str, prefix: str = "") -> None:
        self._run(self._async.grant_permission, role, action, prefix)

    def revoke_permission(self, role: str, action: str, prefix: str = "") -> None:
        self._run(self._async.revoke_permission, role, action, prefix)

    def subscribe(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> Iterator[RecordedEvent]:
        """Committed events from ``from_position`` on, live; closing the iterator closes its
        connection."""
        return self._iterate(self._async.subscribe(from_position, filter=filter))

    def subscribe_batches(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> Iterator[list[RecordedEvent]]:
        """The same events in the batches the node pushes (``AsyncClient.subscribe_batches``)."""
        return self._iterate(self._async.subscribe_batches(from_position, filter=filter))

    def subscribe_pages(
        self, from_position: int = 1, *, filter: EventFilter | None = None
    ) -> Iterator[Page]:
        """The same as pages, which say how far a filter has looked (``subscribe_pages``)."""
        return self._iterate(self._async.subscribe_pages(from_position, filter=filter))

    def _iterate(self, iterator: AsyncGenerator[T, None]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._run(anext, iterator)
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.is_closed():
                self._run(iterator.aclose)
