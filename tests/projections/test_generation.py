"""A target path is a link to a generation; switching it is one rename."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from projections import TargetError
from projections.generation import current, generation_path, remove, reserve, switch


def test_generation_names_keep_the_suffix(tmp_path: Path) -> None:
    assert generation_path(tmp_path / "balances.db", 3).name == "balances.g3.db"
    assert generation_path(tmp_path / "model", 2).name == "model.g2"


def test_reserve_takes_the_next_free_number_exclusively(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first, second = reserve(path, directory=False), reserve(path, directory=False)
    assert (first.name, second.name) == ("m.g1.db", "m.g2.db")
    assert reserve(tmp_path / "m.lmdb", directory=True).is_dir()


def test_switch_moves_the_link_and_returns_the_old_generation(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    assert current(path) is None
    first = reserve(path, directory=False)
    assert switch(path, first) is None
    assert os.readlink(path) == "m.g1.db"
    second = reserve(path, directory=False)
    assert switch(path, second) == first
    assert current(path) == second
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_plain_sqlite_file_is_replaced_by_a_link_and_its_side_files_removed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.close()
    Path(f"{path}-wal").write_bytes(b"")
    fresh = reserve(path, directory=False)
    assert switch(path, fresh) == path
    remove(path)
    assert path.is_symlink()
    assert not Path(f"{path}-wal").exists()


def test_sqlite_names_its_side_files_after_the_generation(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    switch(path, reserve(path, directory=False))
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    assert (tmp_path / "m.g1.db-wal").exists()
    db.close()


def test_a_plain_directory_cannot_be_switched(tmp_path: Path) -> None:
    path = tmp_path / "m.lmdb"
    path.mkdir()
    with pytest.raises(TargetError, match="plain directory"):
        switch(path, reserve(path, directory=True))


def test_remove_deletes_a_directory_generation(tmp_path: Path) -> None:
    generation = reserve(tmp_path / "m.lmdb", directory=True)
    (generation / "data.mdb").write_bytes(b"x")
    remove(generation)
    assert not generation.exists()
