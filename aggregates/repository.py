"""``Repository`` and ``AsyncRepository``: load and save aggregates over an event store.

Both are thin drivers around the same I/O-free core (``Load`` and ``SavePlan``), one calling
a sync store (``open_embedded``, ``Client``), the other awaiting an ``AsyncClient``, so they
behave identically. Building one checks the registry: a broken upcaster chain or an
unregistered handled event fails at start-up, not at the first load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from aggregates.aggregate import Aggregate
from aggregates.codec import Codec
from aggregates.formats import Format
from aggregates.loading import Load, Read, ReadForward
from aggregates.policy import Never, SnapshotPolicy
from aggregates.registry import DEFAULT_REGISTRY, AggregateSpec, Registry
from aggregates.retry import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF,
    retry_on_conflict,
    retry_on_conflict_async,
)
from aggregates.saving import NOTHING_SAVED, SavePlan, SaveResult, StreamAppend
from eventlog import (
    AppendResult,
    AsyncEventLog,
    EventLog,
    RecordedEvent,
    Tracking,
    WrongExpectedVersion,
)

A = TypeVar("A", bound=Aggregate)
DEFAULT_PAGE_SIZE = 5000
"""Events per forward read while loading: bounds the size of one answer from a node."""


class _Core:
    """What both repositories share: the codec, the snapshot policies, the plans."""

    def __init__(
        self,
        registry: Registry,
        format: Format,
        snapshots: Mapping[type[Aggregate], SnapshotPolicy] | None,
        page_size: int,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be 1 or more, not {page_size}")
        registry.check()
        self.codec = Codec(registry, format)
        self.codec.check()
        self.policies = dict(snapshots or {})
        self.page_size = page_size

    def policy_for(self, spec: AggregateSpec) -> SnapshotPolicy:
        return self.policies.get(spec.cls, spec.snapshots)

    def load(self, cls: type[A], aggregate_id: str, version: int | None) -> Load[A]:
        spec = self.codec.registry.aggregate_for(cls)
        return Load(
            cls,
            spec,
            self.codec,
            aggregate_id,
            version=version,
            use_snapshots=not isinstance(self.policy_for(spec), Never),
            page_size=self.page_size,
        )

    def plan(
        self,
        aggregates: tuple[Aggregate, ...],
        tracking: Tracking | None,
        appends: Iterable[StreamAppend],
    ) -> SavePlan:
        return SavePlan(self.codec, aggregates, self.policy_for, tracking=tracking, appends=appends)


class Repository:
    """Aggregates over a sync store. ``snapshots`` overrides the policies given at
    registration, per aggregate class; ``format`` is what new records are written in
    (records in either format are always read)."""

    def __init__(
        self,
        store: EventLog,
        *,
        registry: Registry = DEFAULT_REGISTRY,
        format: Format = Format.MSGPACK,
        snapshots: Mapping[type[Aggregate], SnapshotPolicy] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.store = store
        self._core = _Core(registry, format, snapshots, page_size)

    @property
    def codec(self) -> Codec:
        return self._core.codec

    def get(self, cls: type[A], aggregate_id: str, *, version: int | None = None) -> A:
        """The aggregate as of its last event, or as of ``version``; ``AggregateNotFound``
        if there is no such aggregate (or it never reached ``version``)."""
        load = self._core.load(cls, aggregate_id, version)
        while (read := load.next_read()) is not None:
            load.feed(self._read(read))
        return load.result()

    def _read(self, read: Read) -> list[RecordedEvent]:
        if isinstance(read, ReadForward):
            return self.store.read_stream(read.stream, read.from_version, read.limit)
        return self.store.read_stream_backwards(read.stream, read.from_version, read.limit)

    def save(
        self,
        *aggregates: Aggregate,
        tracking: Tracking | None = None,
        appends: Iterable[StreamAppend] = (),
    ) -> SaveResult:
        """Append the pending events of all ``aggregates`` atomically, with ``tracking`` and
        the raw ``appends`` (``(stream, events, expected_version)``) if given;
        ``ConcurrencyError`` (nothing written) if any of them was saved by someone else since
        it was loaded, ``TrackingConflict`` if the tracking record is there already."""
        plan = self._core.plan(aggregates, tracking, appends)
        if plan.empty:
            return NOTHING_SAVED
        try:
            result: AppendResult = self.store.append_multi(
                plan.appends, request_id=plan.request_id, tracking=plan.tracking
            )
        except WrongExpectedVersion as error:
            conflict = plan.conflict(error)
            if conflict is error:
                raise
            raise conflict from error
        return plan.saved(result)

    def update(
        self,
        cls: type[A],
        aggregate_id: str,
        command: Callable[[A], object],
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
    ) -> SaveResult:
        """Load, run ``command`` on the aggregate, save; again on a conflict, up to
        ``attempts`` times in all."""

        def once() -> SaveResult:
            aggregate = self.get(cls, aggregate_id)
            command(aggregate)
            return self.save(aggregate)

        return retry_on_conflict(once, attempts=attempts, backoff=backoff)


class AsyncRepository:
    """``Repository`` over an ``AsyncClient``: the same methods, awaited."""

    def __init__(
        self,
        store: AsyncEventLog,
        *,
        registry: Registry = DEFAULT_REGISTRY,
        format: Format = Format.MSGPACK,
        snapshots: Mapping[type[Aggregate], SnapshotPolicy] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.store = store
        self._core = _Core(registry, format, snapshots, page_size)

    @property
    def codec(self) -> Codec:
        return self._core.codec

    async def get(self, cls: type[A], aggregate_id: str, *, version: int | None = None) -> A:
        load = self._core.load(cls, aggregate_id, version)
        while (read := load.next_read()) is not None:
            load.feed(await self._read(read))
        return load.result()

    async def _read(self, read: Read) -> list[RecordedEvent]:
        if isinstance(read, ReadForward):
            return await self.store.read_stream(read.stream, read.from_version, read.limit)
        return await self.store.read_stream_backwards(read.stream, read.from_version, read.limit)

    async def save(
        self,
        *aggregates: Aggregate,
        tracking: Tracking | None = None,
        appends: Iterable[StreamAppend] = (),
    ) -> SaveResult:
        plan = self._core.plan(aggregates, tracking, appends)
        if plan.empty:
            return NOTHING_SAVED
        try:
            result = await self.store.append_multi(
                plan.appends, request_id=plan.request_id, tracking=plan.tracking
            )
        except WrongExpectedVersion as error:
            conflict = plan.conflict(error)
            if conflict is error:
                raise
            raise conflict from error
        return plan.saved(result)

    async def update(
        self,
        cls: type[A],
        aggregate_id: str,
        command: Callable[[A], object],
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
    ) -> SaveResult:
        async def once() -> SaveResult:
            aggregate = await self.get(cls, aggregate_id)
            command(aggregate)
            return await self.save(aggregate)

        return await retry_on_conflict_async(once, attempts=attempts, backoff=backoff)
