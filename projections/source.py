"""Where a worker reads events and holds its lease: a cluster (through ``AsyncClient``) or an
embedded store, behind one asyncio port.

``subscribe`` is an async generator that stops when closed: for a cluster it uses its own
client, so closing the generator closes the connection and the node stops pushing (a
subscription shares nothing with the reads, whose client goes on).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

from eventlog import (
    AsyncClient,
    Client,
    EmbeddedStore,
    EventFilter,
    EventLog,
    LeaseGrant,
    Page,
    TLSConfig,
    open_embedded,
    parse_addresses,
)

T = TypeVar("T")


class EventSource(Protocol):
    """The committed log, as a projection worker uses it."""

    async def read_page(self, from_position: int, limit: int, filter: EventFilter | None) -> Page:
        """Committed events from ``from_position`` on that ``filter`` keeps, at most
        ``limit``, and how far the read looked (``EventLog.read_page``)."""
        ...

    def subscribe_pages(
        self, from_position: int, filter: EventFilter | None
    ) -> AsyncGenerator[Page, None]:
        """The same, live, until closed, in the pages they arrive in (in order; through a
        filter, a page may hold no events and still move on)."""
        ...

    async def head(self) -> int:
        """The last committed position (as far as the node asked knows)."""
        ...

    async def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant: ...

    async def release_lease(self, name: str, owner: str, token: int) -> None: ...

    async def leases(self) -> list[LeaseGrant]: ...

    def blocking_log(self) -> EventLog:
        """The same log as a blocking ``EventLog``, for a process manager's handlers (which
        run in a thread of their own); closed with the source."""
        ...

    async def close(self) -> None: ...


class ClientSource:
    """A cluster. Reads follow the leader and retry within ``timeout``; lease calls use a
    shorter deadline (``lease_timeout``), since a renewal that takes longer than a third of
    the lease is already too late. Each subscription starts at the next address of the
    list, so one that stalled on a dead or cut-off node is replaced by one elsewhere."""

    def __init__(
        self,
        addresses: str | Sequence[str],
        *,
        timeout: float = 10.0,
        lease_timeout: float = 2.0,
        cluster_id: str | None = None,
        tls: TLSConfig | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        given = parse_addresses(addresses)
        self.timeout, self.cluster_id = timeout, cluster_id
        self.tls, self.credentials = tls, credentials
        """As ``AsyncClient``'s: None takes ``EVENTRAFT_TLS_*``, ``EVENTRAFT_USER`` and
        ``EVENTRAFT_PASSWORD_FILE``."""
        self._reads = self._client(given, timeout)
        self._leases = self._client(given, lease_timeout)
        self._subscriptions = 0
        self._blocking: Client | None = None

    @property
    def addresses(self) -> list[str]:
        """The addresses given, then the members the nodes named (the reads' client learns
        them), so a worker given one address outlives that node."""
        return list(self._reads.addresses)

    def _client(self, addresses: list[str], timeout: float) -> AsyncClient:
        return AsyncClient(
            addresses,
            timeout,
            cluster_id=self.cluster_id,
            tls=self.tls,
            credentials=self.credentials,
        )

    async def read_page(self, from_position: int, limit: int, filter: EventFilter | None) -> Page:
        return await self._reads.read_page(from_position, limit, filter=filter)

    async def subscribe_pages(
        self, from_position: int, filter: EventFilter | None
    ) -> AsyncGenerator[Page, None]:
        addresses = self.addresses
        first = self._subscriptions % max(1, len(addresses))
        self._subscriptions += 1
        client = self._client(addresses[first:] + addresses[:first], self.timeout)
        subscription = client.subscribe_pages(from_position, filter=filter)
        try:
            async with contextlib.aclosing(subscription) as pages:
                async for page in pages:
                    yield page
        finally:
            await client.close()

    async def head(self) -> int:
        return await self._reads.head()

    async def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant:
        return await self._leases.acquire_lease(name, owner, ttl, checkpoint=checkpoint)

    async def release_lease(self, name: str, owner: str, token: int) -> None:
        await self._leases.release_lease(name, owner, token)

    async def leases(self) -> list[LeaseGrant]:
        return await self._leases.leases()

    def blocking_log(self) -> EventLog:
        if self._blocking is None:
            self._blocking = Client(
                self.addresses,
                self.timeout,
                cluster_id=self.cluster_id,
                tls=self.tls,
                credentials=self.credentials,
            )
        return self._blocking

    async def close(self) -> None:
        await self._reads.close()
        await self._leases.close()
        if self._blocking is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._blocking.close)


class EmbeddedSource:
    """An embedded store, whose calls block: they run in a thread of their own, so the
    worker's loop (lease renewals, signals) never waits on them.

    An embedded store is one process's: only appends made in this process wake a
    subscription, and no other process may have the store open while this one does."""

    def __init__(self, store: EmbeddedStore, *, owns_store: bool = False) -> None:
        self.store, self._owns_store = store, owns_store
        self._calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-source")

    @classmethod
    def open(cls, path: Path | str) -> EmbeddedSource:
        return cls(open_embedded(path), owns_store=True)

    async def _call(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._calls, function)

    async def read_page(self, from_position: int, limit: int, filter: EventFilter | None) -> Page:
        return await self._call(lambda: self.store.read_page(from_position, limit, filter=filter))

    async def subscribe_pages(
        self, from_position: int, filter: EventFilter | None
    ) -> AsyncGenerator[Page, None]:
        # The store's subscription blocks while it waits for an append; it gets a thread of
        # its own, left to finish by itself (at the next append, or when the store closes).
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-subscription")
        pages = self.store.subscribe_pages(from_position, filter=filter)
        loop = asyncio.get_running_loop()
        try:
            while (page := await loop.run_in_executor(thread, next, pages, None)) is not None:
                yield page
        finally:
            thread.shutdown(wait=False)

    async def head(self) -> int:
        return await self._call(self.store.head)

    async def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant:
        return await self._call(
            lambda: self.store.acquire_lease(name, owner, ttl, checkpoint=checkpoint)
        )

    async def release_lease(self, name: str, owner: str, token: int) -> None:
        await self._call(lambda: self.store.release_lease(name, owner, token))

    async def leases(self) -> list[LeaseGrant]:
        return await self._call(self.store.leases)

    def blocking_log(self) -> EventLog:
        return self.store

    async def close(self) -> None:
        if self._owns_store:
            await self._call(self.store.close)
        self._calls.shutdown(wait=True)
