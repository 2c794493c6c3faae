"""Every stored record carries a checksum verified on each read: a byte changed on disk is a
``CorruptRecord`` naming its table and key, never served and never sent to a follower; a
``data.mdb`` cut short or not LMDB's is refused before LMDB maps it; a store of the format
before checksums is upgraded when opened writable."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import lmdb
import pytest

from eventlog.errors import CorruptRecord, DataDirError
from eventlog.raft.records import Entry, HardState
from eventlog.raft.storage import StorageError
from eventlog.store import layout
from eventlog.store.codecs import Q, stream_key
from eventlog.store.reads import EventReader
from eventlog.store.sealed import SUM_BYTES
from eventlog.store.storage import LmdbStorage
from eventlog.types import LogIndex, NodeId, Term
from tests.store import (
    entry,
    history,
    lease,
    one,
    open_store,
    persist,
    persist_and_apply,
    raw_batch,
    rid,
)


def tamper(path: Path, table: str, key: bytes, change: Callable[[bytes], bytes]) -> None:
    """Change one stored value behind the store's back, as a bad disk would."""
    env = lmdb.open(str(path), max_dbs=16)
    try:
        with env.begin(write=True) as txn:
            db = env.open_db(table.encode(), txn=txn, create=False)
            raw = txn.get(key, db=db)
            assert raw is not None, (table, key)
            txn.put(key, change(raw), db=db)
    finally:
        env.close()


def flip(offset: int) -> Callable[[bytes], bytes]:
    def change(raw: bytes) -> bytes:
        return raw[:offset] + bytes([raw[offset] ^ 0x01]) + raw[offset + 1 :]

    return change


def stored(path: Path) -> None:
    with open_store(path) as store:
        history(store)
        persist_and_apply(store, _lease_entry())
        persist(store, HardState(term=Term(1), vote=NodeId(1), commit=LogIndex(4)), [])


def _lease_entry() -> Entry:
    data = raw_batch(lease(9, "projection", "worker-1"))
    return Entry(term=Term(1), index=LogIndex(4), data=data)


def test_a_changed_event_byte_is_never_served_or_sent(tmp_path: Path) -> None:
    stored(tmp_path)
    tamper(tmp_path, "raft_log", Q.pack(3), flip(20))  # inside entry 3's batch
    with open_store(tmp_path) as store:
        assert [e.position for e in store.read_stream("a", 1, 2)] == [1, 2]  # entry 1: fine
        with pytest.raises(CorruptRecord) as caught:
            store.read_all()
        assert (caught.value.where, caught.value.key) == ("raft_log", 3)
        assert "checksum" in str(caught.value)
        with pytest.raises(CorruptRecord, match="raft_log at 3"):
            store.entries(LogIndex(2), LogIndex(4))  # what the leader would send a follower
        with pytest.raises(CorruptRecord, match="raft_log at 3"):
            store.read_stream("a")


SERVED_BY: dict[str, tuple[Callable[[], bytes], Callable[[LmdbStorage], object]]] = {
    "positions": (lambda: Q.pack(2), lambda s: s.read_all()),
    "stream_index": (lambda: (1).to_bytes(8, "big") + Q.pack(2), lambda s: s.read_stream("a")),
    "stream_ids": (lambda: stream_key("b"), lambda s: s.read_stream("b")),
    "stream_heads": (lambda: (2).to_bytes(8, "big"), lambda s: s.stream_version("b")),
    "requests": (lambda: rid(3), lambda s: s.request_outcome(rid(3))),
    "leases": (lambda: b"projection", lambda s: s.leases()),
}


@pytest.mark.parametrize("table", sorted(SERVED_BY))
def test_each_table_of_applied_state_is_checked_when_read(tmp_path: Path, table: str) -> None:
    stored(tmp_path)
    key, read = SERVED_BY[table]
    tamper(tmp_path, table, key(), flip(0))
    with open_store(tmp_path) as store, pytest.raises(CorruptRecord) as caught:
        read(store)
    assert caught.value.where == table


@pytest.mark.parametrize(
    ("table", "key"), [("meta", layout.M_DIGEST), ("raft_state", b"hard_state")]
)
def test_the_state_a_store_opens_with_is_checked(tmp_path: Path, table: str, key: bytes) -> None:
    stored(tmp_path)
    tamper(tmp_path, table, key, flip(0))
    with pytest.raises(CorruptRecord) as caught:
        open_store(tmp_path)
    assert caught.value.where == table


def test_a_value_moved_under_another_key_fails_its_checksum(tmp_path: Path) -> None:
    stored(tmp_path)
    env = lmdb.open(str(tmp_path), max_dbs=16)
    with env.begin(write=True) as txn:
        positions = env.open_db(b"positions", txn=txn, create=False)
        txn.put(Q.pack(2), txn.get(Q.pack(3), db=positions), db=positions)
    env.close()
    with open_store(tmp_path) as store, pytest.raises(CorruptRecord) as caught:
        store.read_all()
    assert (caught.value.where, caught.value.key) == ("positions", 2)


def unseal_everything(path: Path) -> None:
    """Make the store what format 2 wrote: the same values without their checksums."""
    env = lmdb.open(str(path), max_dbs=16)
    with env.begin(write=True) as txn:
        for name in layout.DB_NAMES:
            db = env.open_db(name.encode(), txn=txn, create=False)
            for key, value in list(txn.cursor(db=db)):
                txn.put(key, value[:-SUM_BYTES], db=db)
        meta = env.open_db(b"meta", txn=txn, create=False)
        txn.put(layout.M_FORMAT, Q.pack(layout.UNSEALED_FORMAT), db=meta)
    env.close()


def test_a_store_of_the_format_before_checksums_is_upgraded_when_opened(tmp_path: Path) -> None:
    stored(tmp_path)
    with open_store(tmp_path) as store:
        before = (store.read_all(), store.digest(), store.leases(), store.hard_state())
    unseal_everything(tmp_path)
    with pytest.raises(DataDirError, match="format 2: open it once writable"):
        LmdbStorage.open_readonly(tmp_path)
    for _ in range(2):  # upgraded once, then opened as it is
        with open_store(tmp_path) as store:
            assert (store.read_all(), store.digest(), store.leases(), store.hard_state()) == before
    tamper(tmp_path, "raft_log", Q.pack(1), flip(12))
    with open_store(tmp_path) as store, pytest.raises(CorruptRecord):
        store.read_all()


# -- the file itself ---------------------------------------------------------------------------
def test_a_truncated_data_file_is_refused_in_one_line_before_lmdb_maps_it(tmp_path: Path) -> None:
    with open_store(tmp_path, map_size=1 << 24) as store:
        for index in range(1, 40):
            persist_and_apply(store, entry(index, one(index, "s", *["E"] * 20)))
    data = tmp_path / "data.mdb"
    size = data.stat().st_size
    os.truncate(data, size // 2)
    with pytest.raises(DataDirError, match=r"data.mdb is truncated: [\d,]+ bytes, but its last"):
        open_store(tmp_path)
    with pytest.raises(DataDirError, match="truncated"):
        LmdbStorage.open_readonly(tmp_path)
    os.truncate(data, 5000)
    with pytest.raises(DataDirError, match="less than its two meta pages"):
        open_store(tmp_path)


def test_a_data_file_that_is_not_lmdb_s_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data.mdb").write_bytes(random.Random(1).randbytes(20_000))
    with pytest.raises(DataDirError, match=r"data\.mdb is not an LMDB file"):
        open_store(tmp_path)


FLIPPER = """
import random, sys
from pathlib import Path
from eventlog.errors import EventLogError
from eventlog.store.reads import EventReader
from eventlog.store.storage import LmdbStorage

path, seed = Path(sys.argv[1]), int(sys.argv[2])
data = path / "data.mdb"
raw = bytearray(data.read_bytes())
rng = random.Random(seed)
for _ in range(200):
    at = rng.randrange(2 * 4096, len(raw))  # past the meta pages, which LMDB must trust
    raw[at] ^= 1 << rng.randrange(8)
data.write_bytes(bytes(raw))
try:
    with LmdbStorage.open(path, cluster_id="test", node_id=1) as store:
        store.read_all()
        for stream in ("a", "b", "s"):
            store.read_stream(stream)
        store.leases()
        store.entries(1, store.last_index() + 1)
    print("unharmed")
except EventLogError as error:
    print("refused", type(error).__name__)
"""


def test_random_byte_flips_are_typed_errors_or_nothing(tmp_path: Path) -> None:
    """Whatever 200 flipped bits hit, opening and reading either works or raises one of
    eventraft's typed errors: never an ``lmdb`` exception, never a crash."""
    good = tmp_path / "good"
    with open_store(good, map_size=1 << 24) as store:
        for index in range(1, 60):
            persist_and_apply(store, entry(index, one(index, "abs"[index % 3], *["E"] * 10)))
    seen = set()
    for seed in range(12):
        copy = tmp_path / f"copy-{seed}"
        shutil.copytree(good, copy)
        done = subprocess.run(
            [sys.executable, "-c", FLIPPER, str(copy), str(seed)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (seed, done.returncode, done.stderr[-2000:])
        seen.add(done.stdout.strip())
    assert any(line.startswith("refused") for line in seen), seen


def test_any_other_lmdb_error_in_a_read_is_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only corruption: whatever LMDB raises inside a read transaction comes out as one of
    eventraft's typed errors, which a node answers, never as an ``lmdb`` exception."""
    stored(tmp_path)

    def failing(*_: object) -> None:
        raise lmdb.ReadersFullError("mdb_txn_begin: MDB_READERS_FULL")

    with open_store(tmp_path) as store:
        monkeypatch.setattr(EventReader, "_recorded", failing)
        with pytest.raises(StorageError, match=r"LMDB read failed: .*READERS_FULL"):
            store.read_all()
