"""LMDB storage: the log-storage contract (shared with MemoryStorage), apply, staging and
reads, and recovery after a restart."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from eventlog.errors import CorruptRecord, InvariantViolation
from eventlog.raft.records import Entry, HardState
from eventlog.raft.storage import EntryUnavailable, LogStorage, MemoryStorage, StorageError
from eventlog.state.machine import (
    INITIAL_DIGEST,
    REQUEST_RETENTION_MS,
    event_id,
)
from eventlog.state.outcomes import Outcome
from eventlog.store import storage as storage_module
from eventlog.store.storage import LmdbStorage
from eventlog.types import LogIndex, NodeId, Term
from tests.store import (
    TS,
    apply,
    entry,
    events,
    history,
    noop,
    one,
    open_store,
    persist,
    persist_and_apply,
    raw_entries,
    rid,
)

REPO = Path(__file__).resolve().parents[2]
STREAMS = ("a", "b", "c", "s", "t")


# -- the LogStorage contract, against both twins ----------------------------------------------
class Disk(Protocol):
    """A storage under test, written the way its host writes it."""

    @property
    def storage(self) -> LogStorage: ...

    def persist(self, state: HardState | None, entries: Sequence[Entry]) -> None: ...

    def hard_state(self) -> HardState: ...

    def reopen(self) -> None:
        """Lose everything not durable (a restart, or a power loss after the last sync)."""


class MemoryDisk:
    def __init__(self) -> None:
        self.storage = MemoryStorage()

    def persist(self, state: HardState | None, entries: Sequence[Entry]) -> None:
        self.storage.write(state, entries)
        self.storage.sync()

    def hard_state(self) -> HardState:
        return self.storage.hard_state()

    def reopen(self) -> None:
        self.storage = self.storage.crash()


class LmdbDisk:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.storage = LmdbStorage.open(path, cluster_id="test", node_id=1)

    def persist(self, state: HardState | None, entries: Sequence[Entry]) -> None:
        persist(self.storage, state, entries)

    def hard_state(self) -> HardState:
        return self.storage.hard_state()

    def reopen(self) -> None:
        self.storage.close()
        self.storage = LmdbStorage.open(self.path, cluster_id="test", node_id=1)


class LogStorageContract:
    """What the Raft core relies on from any LogStorage + StateStorage."""

    @pytest.fixture
    def disk(self, tmp_path: Path) -> Iterator[Disk]:
        raise NotImplementedError

    def test_empty(self, disk: Disk) -> None:
        log = disk.storage
        assert (log.first_index(), log.last_index(), log.term(LogIndex(0))) == (1, 0, 0)
        assert disk.hard_state() == HardState()
        with pytest.raises(EntryUnavailable):
            log.term(LogIndex(1))
        assert log.entries(LogIndex(1), LogIndex(1)) == []

    def test_persisted_entries_read_back_and_survive_a_restart(self, disk: Disk) -> None:
        written = raw_entries(1, 1, 2)
        disk.persist(None, written)
        disk.reopen()
        log = disk.storage
        assert log.last_index() == 3
        assert [log.term(LogIndex(i)) for i in range(4)] == [0, 1, 1, 2]
        assert log.entries(LogIndex(1), LogIndex(4)) == written
        assert log.entries(LogIndex(2), LogIndex(3)) == written[1:2]

    def test_a_new_suffix_replaces_the_stale_one(self, disk: Disk) -> None:
        disk.persist(None, raw_entries(1, 1, 1, 1, 1))
        replacement = raw_entries(2, 2, start=3, size=4)
        disk.persist(None, replacement)
        disk.reopen()
        log = disk.storage
        assert log.last_index() == 4
        assert log.entries(LogIndex(1), LogIndex(5)) == raw_entries(1, 1) + replacement
        with pytest.raises(EntryUnavailable):
            log.term(LogIndex(5))
        disk.persist(None, raw_entries(3, start=5))
        assert [log.term(LogIndex(i)) for i in range(1, 6)] == [1, 1, 2, 2, 3]

    def test_entries_out_of_range_are_unavailable(self, disk: Disk) -> None:
        disk.persist(None, raw_entries(1, 1))
        with pytest.raises(EntryUnavailable):
            disk.storage.entries(LogIndex(0), LogIndex(2))
        with pytest.raises(EntryUnavailable):
            disk.storage.entries(LogIndex(1), LogIndex(4))

    def test_a_gap_is_refused(self, disk: Disk) -> None:
        disk.persist(None, raw_entries(1))
        with pytest.raises(StorageError):
            disk.persist(None, raw_entries(1, start=3))
        assert disk.storage.last_index() == 1

    @pytest.mark.parametrize(
        ("max_bytes", "count"), [(None, 4), (0, 1), (26, 1), (52, 2), (77, 2), (78, 3), (10**6, 4)]
    )
    def test_max_bytes_cuts_to_a_prefix_of_at_least_one(
        self, disk: Disk, max_bytes: int | None, count: int
    ) -> None:
        disk.persist(None, raw_entries(1, 1, 1, 1))  # 10 bytes of data + 16 each
        got = disk.storage.entries(LogIndex(1), LogIndex(5), max_bytes)
        assert got == raw_entries(1, 1, 1, 1)[:count]

    def test_hard_state_round_trips_and_survives_a_restart(self, disk: Disk) -> None:
        state = HardState(term=Term(7), vote=NodeId(3), commit=LogIndex(2))
        disk.persist(state, raw_entries(1, 7))
        disk.persist(None, raw_entries(7, start=3))
        disk.reopen()
        assert disk.hard_state() == state
        assert disk.storage.last_index() == 3


class TestMemoryStorage(LogStorageContract):
    @pytest.fixture
    def disk(self, tmp_path: Path) -> Iterator[Disk]:
        yield MemoryDisk()


class TestLmdbLogStorage(LogStorageContract):
    @pytest.fixture
    def disk(self, tmp_path: Path) -> Iterator[Disk]:
        disk = LmdbDisk(tmp_path / "node")
        yield disk
        disk.storage.close()


# -- apply and reads ---------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Iterator[LmdbStorage]:
    with open_store(tmp_path / "node") as storage:
        yield storage


def test_apply_returns_outcomes_per_entry_and_noops_only_advance(store: LmdbStorage) -> None:
    persist(store, None, [entry(1, one(1, "s", "E")), noop(2), entry(3, one(2, "s", "F"))])
    results = apply(store, store.entries(LogIndex(1), LogIndex(4)))
    assert [(index, len(outcomes)) for index, outcomes in results] == [(1, 1), (2, 0), (3, 1)]
    assert store.applied_index() == 3
    assert store.last_position() == 2
    assert store.stream_version("s") == 2
    assert store.stream_version("absent") == 0


def test_one_ready_persists_and_applies_in_one_transaction(
    store: LmdbStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    persist(store, None, [entry(1, one(1, "s", "E1"))])
    commits: list[str] = []
    real = storage_module.write_txn

    def counting(*args: object, **kwargs: object) -> object:
        commits.append("txn")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(storage_module, "write_txn", counting)
    seen: list[tuple[int, int, list[tuple[LogIndex, list[Outcome]]]]] = []

    def on_applied(outcomes: list[tuple[LogIndex, list[Outcome]]]) -> None:
        # Called before the commit: nothing of this Ready is visible to readers yet.
        seen.append((store.applied_index(), store.last_position(), outcomes))

    second = entry(2, one(2, "s", "E2"))
    hard_state = HardState(term=Term(1), vote=NodeId(1), commit=LogIndex(1))
    results = store.write_ready(hard_state, [second], store.entries(1, 2), on_applied=on_applied)
    assert commits == ["txn"]
    [(index, [outcome])] = results
    assert index == 1 and outcome.result is not None and outcome.result.last_position == 1
    assert seen == [(0, 0, results)]
    assert (store.applied_index(), store.last_index(), store.hard_state()) == (1, 2, hard_state)
    assert store.read_stream("s")[0].type == "E1"
    assert store.write_ready(None, [], store.entries(2, 3)) != []
    assert [e.type for e in store.read_stream("s")] == ["E1", "E2"]


def test_every_commit_is_durable_when_it_returns_unless_opened_without_fsync(
    tmp_path: Path,
) -> None:
    """LMDB fsyncs a commit's pages and writes its meta page O_DSYNC (``metasync``): no
    commit is acknowledged before a power loss would keep it."""
    with open_store(tmp_path / "durable") as durable:
        flags = durable._env.flags()
        assert flags["sync"] and flags["metasync"]
    with open_store(tmp_path / "unsafe", sync=False) as unsafe:
        flags = unsafe._env.flags()
        assert not flags["sync"] and not flags["metasync"]


def test_an_entry_committed_in_the_write_that_persists_it_is_answered_once_durable(
    store: LmdbStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leader alone commits its entry in the Ready that persists it: its caller hears only
    after the commit, and a write that failed (a full disk) and is retried answers once."""
    first = entry(1, one(1, "s", "E1"))
    commit = HardState(term=Term(1), vote=NodeId(1), commit=LogIndex(1))
    answered: list[object] = []
    real = storage_module.write_txn
    attempts: list[int] = []

    def failing_once(*args: object) -> object:
        attempts.append(len(answered))  # what was answered when the write began
        if len(attempts) == 1:
            raise StorageError("disk full")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(storage_module, "write_txn", failing_once)
    with pytest.raises(StorageError):
        store.write_ready(commit, [first], [first], on_applied=answered.append)
    assert answered == [] and store.applied_index() == 0
    results = store.write_ready(commit, [first], [first], on_applied=answered.append)
    assert attempts == [0, 0], "nothing answered before a write landed"
    assert answered == [results] and [index for index, _ in results] == [1]
    assert store.applied_index() == 1 and store.read_stream("s")[0].type == "E1"


def test_staged_outcomes_are_written_with_the_next_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = entry(1, one(1, "s", "E1")), entry(2, one(2, "s", "E2"))
    third = entry(3, one(3, "t", "T1"))
    with open_store(tmp_path / "direct") as direct:
        persist(direct, None, [first, second, third])
        expected = apply(direct, [first, second, third])
    with open_store(tmp_path / "node") as store:
        persist(store, None, [first, second])
        commits: list[bool] = []
        real = storage_module.write_txn

        def counting(*args: object) -> object:
            commits.append(True)
            return real(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(storage_module, "write_txn", counting)
        commit_two = HardState(term=Term(0), vote=NodeId(0), commit=LogIndex(2))
        staged = store.stage(None, [first]) + store.stage(commit_two, [first, second])
        assert commits == [] and store.staged()
        assert store.applied_index() == 0 and store.read_all() == [], "staged is not read"
        decided = store.write_ready(None, [third], [third])
        assert commits == [True] and not store.staged()
        assert staged + decided == expected
        assert (store.applied_index(), store.hard_state()) == (3, commit_two)
        assert [e.type for e in store.read_all()] == ["E1", "E2", "T1"]
        assert store.digest() == direct_digest(tmp_path / "direct")


def direct_digest(path: Path) -> bytes:
    with open_store(path) as store:
        return store.digest()


def test_a_crash_loses_staged_outcomes_and_applying_again_decides_the_same(
    tmp_path: Path,
) -> None:
    first = entry(1, one(1, "s", "E1"), one(2, "t", "T1"))
    with open_store(tmp_path / "node") as store:
        persist(store, None, [first])
        staged = store.stage(None, [first])
    with open_store(tmp_path / "node") as store:  # closed without a flush: as after a crash
        assert store.applied_index() == 0 and store.read_all() == []
        assert apply(store, [first]) == staged
        store.flush()  # nothing staged: writes nothing
        assert store.applied_index() == 1


def test_a_ready_may_apply_entries_it_persists_itself(store: LmdbStorage) -> None:
    first = entry(1, one(1, "s", "E1"))
    results = store.write_ready(None, [first], [first])
    assert [index for index, _ in results] == [1]
    assert store.applied_index() == 1 and store.last_position() == 1


def test_applying_an_entry_that_is_not_persisted_is_refused(store: LmdbStorage) -> None:
    with pytest.raises(InvariantViolation):
        store.write_ready(None, [entry(1, one(1, "s", "E1"))], [entry(2, one(2, "s", "E2"))])
    assert store.last_index() == 0 and store.applied_index() == 0


def test_expired_request_rows_are_dropped_and_the_clock_survives_a_restart(
    tmp_path: Path,
) -> None:
    later = TS + REQUEST_RETENTION_MS + 1
    with open_store(tmp_path / "node") as store:
        persist_and_apply(store, entry(1, one(1, "s", "E1"), ts=TS))
        assert store.request_outcome(rid(1)) is not None
        persist_and_apply(store, entry(2, one(2, "t", "T1"), ts=later))
        assert store.request_outcome(rid(1)) is None
        assert store.request_outcome(rid(2)) is not None
    with open_store(tmp_path / "node") as store:
        [(_, [outcome])] = persist_and_apply(store, entry(3, one(1, "s", "E1"), ts=TS))
        assert outcome.result is not None and outcome.result.first_position == 3
        assert outcome.applied_ms == later


def test_read_all_returns_recorded_events_in_position_order(store: LmdbStorage) -> None:
    history(store)
    read = store.read_all()
    assert [(e.position, e.stream, e.version, e.type) for e in read] == [
        (1, "a", 1, "A1"),
        (2, "a", 2, "A2"),
        (3, "b", 1, "B1"),
        (4, "a", 3, "A3"),
    ]
    [a1] = events("A1")
    assert (read[0].data, read[0].metadata) == (a1.data, a1.metadata)
    assert [e.timestamp for e in read] == [TS, TS, TS, TS + 7]
    assert [e.id for e in read] == [event_id(e.timestamp, e.position) for e in read]
    assert [e.position for e in store.read_all(from_position=3)] == [3, 4]
    assert [e.position for e in store.read_all(from_position=0, limit=2)] == [1, 2]
    assert store.read_all(from_position=5) == []
    assert store.read_all(limit=0) == []


def test_read_stream_returns_one_stream_in_version_order(store: LmdbStorage) -> None:
    history(store)
    assert [(e.version, e.position) for e in store.read_stream("a")] == [(1, 1), (2, 2), (3, 4)]
    assert [e.type for e in store.read_stream("a", from_version=2, limit=1)] == ["A2"]
    assert [e.type for e in store.read_stream("b")] == ["B1"]
    assert store.read_stream("absent") == []
    assert store.read_stream("a", from_version=4) == []


def test_a_stream_name_longer_than_an_lmdb_key_works(store: LmdbStorage) -> None:
    long_name, other = "x" * 1000, "x" * 999 + "y"
    persist_and_apply(store, entry(1, one(1, long_name, "E"), one(2, other, "F", "G")))
    assert [e.type for e in store.read_stream(long_name)] == ["E"]
    assert store.stream_version(other) == 2


def snapshot(store: LmdbStorage) -> tuple[object, ...]:
    """Everything the applied state answers, for before/after comparisons."""
    return (
        store.read_all(),
        [store.read_stream(s) for s in STREAMS],
        [store.stream_version(s) for s in STREAMS],
        store.digest(),
        store.last_position(),
    )


def test_a_restart_keeps_indexes_and_state_and_applies_nothing_twice(tmp_path: Path) -> None:
    with open_store(tmp_path / "node") as store:
        entries = history(store)
        before = snapshot(store)
    with open_store(tmp_path / "node") as store:
        assert store.applied_index() == 3
        assert snapshot(store) == before
        assert store.digest() != INITIAL_DIGEST
        assert apply(store, entries) == []
        retry = entry(4, one(1, "a", "A1", "A2"))
        [(_, [outcome])] = persist_and_apply(store, retry)
        assert outcome == store.request_outcome(one(1, "a").request_id)
        assert outcome.result is not None and outcome.result.first_position == 1
        assert snapshot(store) == before
        assert store.applied_index() == 4


def test_a_failed_apply_transaction_leaves_the_old_state(
    store: LmdbStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    persist_and_apply(store, entry(1, one(1, "s", "E1")))
    before = (store.applied_index(), snapshot(store))
    persist(store, None, [entry(2, one(2, "s", "E2")), entry(3, one(3, "t", "T1"))])
    real = storage_module.write_staged

    def crash_after_writing(*args: object) -> int:
        real(*args)  # type: ignore[arg-type]
        raise OSError("power cut")

    monkeypatch.setattr(storage_module, "write_staged", crash_after_writing)
    with pytest.raises(OSError):
        apply(store, store.entries(LogIndex(2), LogIndex(4)))
    monkeypatch.undo()
    assert (store.applied_index(), snapshot(store)) == before
    assert store.stream_version("t") == 0 and store.read_stream("t") == []
    assert store.request_outcome(one(3, "t").request_id) is None
    apply(store, store.entries(LogIndex(2), LogIndex(4)))
    assert [e.type for e in store.read_all()] == ["E1", "E2", "T1"]


def test_a_corrupt_entry_in_an_apply_call_applies_none_of_it(store: LmdbStorage) -> None:
    bad = Entry(term=Term(1), index=LogIndex(2), data=b"\x01not msgpack")
    persist(store, None, [entry(1, one(1, "s", "E")), bad])
    with pytest.raises(CorruptRecord):
        apply(store, store.entries(LogIndex(1), LogIndex(3)))
    assert (store.applied_index(), store.read_all()) == (0, [])


def test_applied_entries_are_never_replaced_and_only_persisted_ones_apply(
    store: LmdbStorage,
) -> None:
    persist_and_apply(store, entry(1, one(1, "s", "E")))
    with pytest.raises(InvariantViolation):
        persist(store, None, [entry(1, one(2, "s", "F"), term=2)])
    with pytest.raises(InvariantViolation):
        apply(store, [entry(2, one(3, "s", "G"))])
    persist(store, None, [entry(2, one(3, "s", "G")), entry(3, one(4, "s", "H"))])
    with pytest.raises(InvariantViolation):
        apply(store, [entry(3, one(4, "s", "H"))])
