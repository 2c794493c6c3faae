"""LMDB storage as a disk: map growth, a core driving it, refusing a data dir that is not
ours, corrupt rows, and a writer killed with SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import lmdb
import pytest
import structlog

from eventlog.errors import CorruptRecord, DataDirError, StorageFull
from eventlog.raft.config import RaftConfig
from eventlog.raft.core import RaftCore, Storage
from eventlog.state.machine import (
    StateView,
)
from eventlog.state.outcomes import Outcome
from eventlog.store import layout as lmdb_layout
from eventlog.store.storage import LmdbStorage
from eventlog.types import LogIndex, NodeId
from tests.store import (
    apply,
    batch,
    entry,
    events,
    history,
    one,
    open_store,
    persist,
    persist_and_apply,
    req,
)

REPO = Path(__file__).resolve().parents[2]


def test_a_full_map_grows_and_the_write_succeeds(tmp_path: Path) -> None:
    with (
        structlog.testing.capture_logs() as logs,
        open_store(tmp_path / "node", map_size=64 * 1024) as store,
    ):
        for index in range(1, 41):
            request = req(index, ("s", 2 * (index - 1), events("E", "F", size=2000)))
            persist_and_apply(store, entry(index, request))
        assert store.map_size() > 64 * 1024
        assert store.last_position() == 80
    assert any(log["event"] == "lmdb_map_grown" for log in logs)
    with open_store(tmp_path / "node", map_size=64 * 1024) as store:
        read = store.read_all()
        assert [e.position for e in read] == list(range(1, 81))
        assert len(read[-1].data) == 2000


def test_reads_in_another_thread_while_the_map_grows(tmp_path: Path) -> None:
    done = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []
    with open_store(tmp_path / "node", map_size=64 * 1024) as store:

        def reader() -> None:
            try:
                while not done.is_set():
                    read = store.read_all()
                    assert [e.position for e in read] == list(range(1, len(read) + 1))
                    seen.append(len(read))
            except BaseException as error:  # reported by the main thread
                failures.append(error)

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for index in range(1, 31):
                persist_and_apply(store, entry(index, one(index, "s", "E", "F")))
        finally:
            done.set()
            thread.join()
        assert store.map_size() > 64 * 1024
    assert failures == []
    assert seen and seen == sorted(seen)


def test_a_map_that_may_not_grow_further_is_full_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lmdb_layout, "MAX_MAP_SIZE", 128 * 1024)
    with open_store(tmp_path / "node", map_size=64 * 1024) as store:
        persist_and_apply(store, entry(1, one(1, "s", "E")))
        big = [entry(2, req(2, ("s", 1, events(*["E"] * 40, size=4000))))]
        with pytest.raises(StorageFull):
            persist(store, None, big)
        assert store.last_index() == 1 and store.entries(LogIndex(1), LogIndex(2))
        assert [e.position for e in store.read_all()] == [1]


def test_unsafe_mode_is_loud(tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs, open_store(tmp_path / "node", sync=False):
        pass
    assert [log["log_level"] for log in logs if log["event"] == "unsafe_no_fsync"] == ["warning"]


# -- driven by the real core -------------------------------------------------------------------
def run_ready_loop(core: RaftCore, store: LmdbStorage) -> list[tuple[LogIndex, list[Outcome]]]:
    """A one-node host: persist, apply, advance, until the core has nothing more to do."""
    results: list[tuple[LogIndex, list[Outcome]]] = []
    while core.has_ready():
        rd = core.ready()
        persist(store, rd.hard_state, rd.entries)
        results.extend(apply(store, rd.committed))
        core.advance(rd)
    return results


def boot(store: LmdbStorage) -> RaftCore:
    config = RaftConfig(node_id=NodeId(1), voters=(NodeId(1),))
    core = RaftCore.open(config, store, random.Random(1), applied=store.applied_index())
    core.campaign()
    run_ready_loop(core, store)
    return core


def test_a_core_over_lmdb_restarts_where_it_left_off(tmp_path: Path) -> None:
    with open_store(tmp_path / "node") as store:
        ports: tuple[Storage, StateView] = (store, store)  # mypy checks that both ports fit
        assert ports
        core = boot(store)
        core.propose(batch(one(1, "s", "E1")), batch(one(2, "s", "E2", expected=1)))
        assert [len(outcomes) for _, outcomes in run_ready_loop(core, store)] == [1, 1]
    with open_store(tmp_path / "node") as store:
        assert store.hard_state().commit == store.applied_index() == store.last_index() == 3
        core = boot(store)  # a new term: its no-op is the only entry to apply
        assert store.applied_index() == store.last_index() == 4
        core.propose(batch(one(2, "s", "E2", expected=1), one(3, "s", "E3", expected=2)))
        [(_, [retried, third])] = run_ready_loop(core, store)
        assert retried.result is not None and retried.result.first_position == 2
        assert third.result is not None and third.result.stream_version == 3
        assert [e.type for e in store.read_stream("s")] == ["E1", "E2", "E3"]


# -- refusing data dirs that are not ours ------------------------------------------------------
def test_a_dir_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataDirError, match="not an eventraft store"):
        open_store(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_another_lmdb_environment_is_refused(tmp_path: Path) -> None:
    env = lmdb.open(str(tmp_path / "other"))
    with env.begin(write=True) as txn:
        txn.put(b"key", b"value")
    env.close()
    with pytest.raises(DataDirError, match="not an eventraft store"):
        open_store(tmp_path / "other")


@pytest.mark.parametrize(
    ("cluster_id", "node_id", "message"),
    [("other", 1, "cluster 'test', not 'other'"), ("test", 2, "node 1, not node 2")],
)
def test_another_cluster_or_node_is_refused(
    tmp_path: Path, cluster_id: str, node_id: int, message: str
) -> None:
    open_store(tmp_path / "node").close()
    with pytest.raises(DataDirError, match=message):
        open_store(tmp_path / "node", cluster_id=cluster_id, node_id=node_id)
    open_store(tmp_path / "node").close()


def test_an_unusable_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataDirError, match="not a directory"):
        open_store(tmp_path / "file")
    with pytest.raises(DataDirError, match="cannot create"):
        open_store(tmp_path / "file" / "node")


def test_a_malformed_index_row_is_a_corrupt_record(tmp_path: Path) -> None:
    with open_store(tmp_path / "node") as store:
        history(store)
    env = lmdb.open(str(tmp_path / "node"), max_dbs=16)
    with env.begin(write=True) as txn:
        txn.put((2).to_bytes(8, "big"), b"short", db=env.open_db(b"positions", txn=txn))
    env.close()
    with open_store(tmp_path / "node") as store:
        assert [e.position for e in store.read_all(limit=1)] == [1]
        with pytest.raises(CorruptRecord) as caught:
            store.read_all()
        assert (caught.value.where, caught.value.key) == ("positions", 2)


# -- kill -9 -----------------------------------------------------------------------------------
WRITER = """
import sys
from eventlog.raft.records import HardState
from eventlog.store.storage import LmdbStorage
from tests.store import apply, entry, one, persist

store = LmdbStorage.open(sys.argv[1], cluster_id="test", node_id=1)
index = 0
while True:
    index += 1
    stream = f"s{index % 3}"
    new = entry(index, one(index, stream, "E", "F"))
    persist(store, HardState(term=1, vote=1, commit=index), [new])
    apply(store, store.entries(index - 1, index) if index > 1 else [])
    print(index, flush=True)
"""


def test_a_writer_killed_with_sigkill_leaves_a_consistent_store(tmp_path: Path) -> None:
    path = tmp_path / "node"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        assert writer.stdout is not None
        for line in writer.stdout:
            if int(line) >= 25:
                break
            assert time.monotonic() < deadline, "the writer made no progress"
        os.kill(writer.pid, signal.SIGKILL)
        assert writer.wait(timeout=30) == -signal.SIGKILL
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        if writer.stdout is not None:
            writer.stdout.close()
    with open_store(path) as store:
        assert 24 <= store.applied_index() <= store.last_index()
        assert [e.position for e in store.read_all()] == list(range(1, store.last_position() + 1))
        assert store.last_position() == 2 * store.applied_index()
        apply(
            store,
            store.entries(LogIndex(store.applied_index() + 1), LogIndex(store.last_index() + 1)),
        )
        read = store.read_all()
        assert [e.position for e in read] == list(range(1, 2 * store.last_index() + 1))
        for stream in ("s0", "s1", "s2"):
            versions = [e.version for e in store.read_stream(stream)]
            assert versions == list(range(1, len(versions) + 1))
