"""``verify_store`` and ``eventraft verify``: a sound store passes with what it checked
counted; any damage, including damage whose checksum holds (a bug rather than a disk), is
named by its first bad record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import lmdb
import pytest
from click.testing import CliRunner

from eventlog.errors import DataDirError
from eventlog.store import layout, sealed
from eventlog.store.codecs import POS, Q
from eventlog.store.verify import verify_store
from eventraft.cli import main
from tests.store import entry, history, one, open_store, persist_and_apply
from tests.store.test_checksums import flip, tamper


def stored(path: Path) -> int:
    with open_store(path, map_size=1 << 24) as store:
        history(store)
        for index in range(4, 30):
            persist_and_apply(store, entry(index, one(index, "s", *["E"] * 5)))
        return int(store.last_position())


def reseal(path: Path, table: str, key: bytes, value: bytes) -> None:
    """Store ``value`` under ``key`` with a checksum that holds: what a bug would write."""
    env = lmdb.open(str(path), max_dbs=16)
    with env.begin(write=True) as txn:
        db = env.open_db(table.encode(), txn=txn, create=False)
        txn.put(key, sealed.seal(key, value), db=db)
    env.close()


def test_a_sound_store_passes_with_every_record_counted(tmp_path: Path) -> None:
    events = stored(tmp_path)
    found = verify_store(tmp_path)
    assert found.sound, found.problem
    assert (found.entries, found.events) == (29, events)
    assert found.records > 29 + 2 * events


def test_a_changed_byte_is_named(tmp_path: Path) -> None:
    stored(tmp_path)
    tamper(tmp_path, "raft_log", Q.pack(3), flip(20))
    found = verify_store(tmp_path)
    assert found.problem == "corrupt record in raft_log at 3: checksum mismatch"


@pytest.mark.parametrize(
    ("table", "key", "value", "named"),
    [
        ("positions", Q.pack(2), POS.pack(3, 0, 1), "positions at 2"),
        ("meta", layout.M_DIGEST, bytes(32), "meta at 'digest'"),
        ("stream_heads", (1).to_bytes(8, "big"), Q.pack(9), "stream_heads at 'a'"),
    ],
)
def test_damage_whose_checksum_holds_is_found_by_the_replay(
    tmp_path: Path, table: str, key: bytes, value: bytes, named: str
) -> None:
    stored(tmp_path)
    reseal(tmp_path, table, key, value)
    found = verify_store(tmp_path)
    assert found.problem is not None and named in found.problem, found.problem


def test_a_truncated_file_is_named(tmp_path: Path) -> None:
    stored(tmp_path)
    os.truncate(tmp_path / "data.mdb", (tmp_path / "data.mdb").stat().st_size // 2)
    found = verify_store(tmp_path)
    assert found.problem is not None and "truncated" in found.problem


def test_a_store_in_use_is_not_verified(tmp_path: Path) -> None:
    stored(tmp_path)
    with open_store(tmp_path), pytest.raises(DataDirError, match="pid"):
        verify_store(tmp_path)


def test_the_command_says_sound_or_names_the_damage_and_exits_1(tmp_path: Path) -> None:
    stored(tmp_path)
    runner = CliRunner()
    sound = runner.invoke(main, ["verify", "--data-dir", str(tmp_path)])
    assert sound.exit_code == 0 and ": sound (" in sound.output, sound.output
    tamper(tmp_path, "raft_log", Q.pack(7), flip(15))
    damaged = runner.invoke(main, ["verify", "--data-dir", str(tmp_path)])
    assert damaged.exit_code == 1
    assert "DAMAGED: corrupt record in raft_log at 7: checksum mismatch" in damaged.output
    as_json = runner.invoke(main, ["verify", "--data-dir", str(tmp_path), "--json"])
    report = json.loads(as_json.output)
    assert as_json.exit_code == 1 and not report["sound"] and "at 7" in report["problem"]
    missing = runner.invoke(main, ["verify", "--data-dir", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "holds no eventraft store" in missing.output
