"""Builders shared by the store tests: requests, batches and Raft entries carrying them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from eventlog.protocol.requests import KIND_APPEND, KIND_LEASE, LEASE_ACQUIRE, LEASE_RELEASE
from eventlog.raft.records import Entry, EntryKind, HardState
from eventlog.records import ANY, NewEvent
from eventlog.state.batch import batch_of
from eventlog.state.outcomes import Outcome
from eventlog.store.storage import LmdbStorage
from eventlog.types import LogIndex, Term

TS = 1_700_000_000_000
"""A batch timestamp (ms) for tests that do not care about time."""


@attrs.frozen
class StreamAppend:
    stream: str
    expected_version: int
    events: tuple[NewEvent, ...]


@attrs.frozen
class AppendRequest:
    """An append request as tests read best; ``fields`` is what a client sends."""

    request_id: bytes
    appends: tuple[StreamAppend, ...]

    def fields(self) -> list[Any]:
        return [
            KIND_APPEND,
            self.request_id,
            [
                [a.stream, a.expected_version, [[e.type, e.data, e.metadata] for e in a.events]]
                for a in self.appends
            ],
        ]


def rid(n: int) -> bytes:
    """A 16-byte request id, distinct per ``n``."""
    return n.to_bytes(16, "big")


def events(*types: str, size: int = 3) -> tuple[NewEvent, ...]:
    return tuple(
        NewEvent(t, f"{t}-data".encode().ljust(size, b"."), f"{t}-meta".encode()) for t in types
    )


def req(n: int, *appends: tuple[str, int, tuple[NewEvent, ...]]) -> AppendRequest:
    """Request ``rid(n)`` appending to each ``(stream, expected_version, events)``."""
    return AppendRequest(rid(n), tuple(StreamAppend(s, v, evs) for s, v, evs in appends))


def one(n: int, stream: str, *types: str, expected: int = ANY) -> AppendRequest:
    """Request ``rid(n)`` appending events of ``types`` to a single stream."""
    return req(n, (stream, expected, events(*types)))


def batch(*requests: AppendRequest, ts: int = TS) -> bytes:
    return batch_of(ts, ts, [r.fields() for r in requests])


def entry(index: int, *requests: AppendRequest, term: int = 1, ts: int = TS) -> Entry:
    return Entry(term=Term(term), index=LogIndex(index), data=batch(*requests, ts=ts))


def noop(index: int, term: int = 1) -> Entry:
    return Entry(term=Term(term), index=LogIndex(index), kind=EntryKind.NOOP)


def lease(n: int, name: str, owner: str, ttl_ms: int = 1000, value: int = 0) -> list[Any]:
    """Request ``rid(n)`` acquiring or renewing lease ``name`` for ``owner``, as it travels."""
    return [KIND_LEASE, rid(n), [LEASE_ACQUIRE, name, owner, ttl_ms, value]]


def release(n: int, name: str, owner: str, token: int) -> list[Any]:
    return [KIND_LEASE, rid(n), [LEASE_RELEASE, name, owner, 1, token]]


def raw_batch(*requests: list[Any], ts: int = TS) -> bytes:
    """A batch of requests already as it travels (leases, or appends built by hand)."""
    return batch_of(ts, ts, list(requests))


def persist(storage: LmdbStorage, state: HardState | None, entries: Sequence[Entry]) -> None:
    """Write a hard state and entries durably, as a Ready that must sync is written."""
    storage.write_ready(state, entries, ())


def apply(storage: LmdbStorage, entries: Sequence[Entry]) -> list[tuple[LogIndex, list[Outcome]]]:
    """Apply committed entries that are already persisted (a Ready that only applies)."""
    return storage.write_ready(None, (), entries)


def raw_entries(*terms: int, start: int = 1, size: int = 10) -> list[Entry]:
    """Entries with opaque data (the log does not look inside) of ``size`` bytes."""
    return [
        Entry(term=Term(t), index=LogIndex(start + i), data=bytes([i % 256]) * size)
        for i, t in enumerate(terms)
    ]


def open_store(
    path: Path,
    *,
    cluster_id: str = "test",
    node_id: int = 1,
    sync: bool = True,
    map_size: int = 1 << 30,
) -> LmdbStorage:
    return LmdbStorage.open(
        path, cluster_id=cluster_id, node_id=node_id, sync=sync, map_size=map_size
    )


def persist_and_apply(store: LmdbStorage, *entries: Entry) -> list[tuple[LogIndex, list[Outcome]]]:
    persist(store, None, entries)
    return apply(store, entries)


def history(store: LmdbStorage) -> list[Entry]:
    entries = [
        entry(1, one(1, "a", "A1", "A2"), one(2, "b", "B1"), ts=TS),
        noop(2),
        entry(3, one(3, "b", "B2", expected=5), one(4, "a", "A3"), ts=TS + 7),
    ]
    persist_and_apply(store, *entries)
    return entries
