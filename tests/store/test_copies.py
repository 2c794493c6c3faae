"""Whole copies of a store: taken while it is written, installed whole or not at all, made the
joining node's own, or made the first store of a new cluster (a restore)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from eventlog.errors import DataDirError
from eventlog.raft.membership import Membership
from eventlog.raft.records import Entry, EntryKind, HardState
from eventlog.store import copies
from eventlog.store.storage import LmdbStorage
from eventlog.store.verify import verify_store
from eventlog.types import LogIndex, NodeId, Term
from tests.store import entry, history, one, open_store, persist, persist_and_apply


def copy_into(store: LmdbStorage, directory: Path) -> copies.Manifest:
    """What a joining node does with the chunks it is sent: write them to ``incoming/``."""
    incoming = copies.clear_incoming(directory)
    with open(incoming / "data.mdb", "wb") as out:
        return store.copy_to(out.fileno())


def filled(path: Path) -> LmdbStorage:
    store = open_store(path, node_id=1)
    history(store)
    config = Membership.of([1, 2, 3], [4], {4: "127.0.0.1:7004"}).encode()
    persist_and_apply(
        store, Entry(term=Term(1), index=LogIndex(4), data=config, kind=EntryKind.CONFIG)
    )
    for index in range(5, 20):
        persist_and_apply(store, entry(index, one(index, "s", "E", "E")))
    persist(store, HardState(term=Term(2), vote=NodeId(1), commit=LogIndex(19)), [])
    return store


def test_a_copy_taken_through_a_pipe_while_the_store_is_written_installs_whole(
    tmp_path: Path,
) -> None:
    store = filled(tmp_path / "source")
    target = tmp_path / "joiner"
    incoming = copies.clear_incoming(target)
    read, write = os.pipe()
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read, 1 << 16):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    manifest = store.copy_to(write)
    os.close(write)
    persist_and_apply(store, entry(20, one(20, "s", "LATE")))  # after the copy: not in it
    reader.join()
    os.close(read)
    (incoming / "data.mdb").write_bytes(received)
    copies.install(target, copies.made_ours(4))
    assert not (target / copies.INCOMING).exists()
    with LmdbStorage.open(target, cluster_id="test", node_id=4) as joined:
        assert joined.applied_index() == manifest.applied_index == 19
        assert joined.digest().hex() == manifest.digest
        assert joined.last_position() == manifest.last_position
        assert joined.hard_state() == HardState(term=Term(2), vote=NodeId(0), commit=LogIndex(19))
        assert joined.incarnation != store.incarnation
        assert [e.index for e in joined.config_entries()] == [4]
    store.close()


def test_a_transfer_cut_off_leaves_no_store_and_the_next_one_starts_clean(tmp_path: Path) -> None:
    target = tmp_path / "joiner"
    incoming = copies.clear_incoming(target)
    (incoming / "data.mdb").write_bytes(b"half a copy")
    assert not (target / "data.mdb").exists()
    with filled(tmp_path / "source") as store:
        copy_into(store, target)  # clears what the first attempt left
    copies.install(target, copies.made_ours(4))
    assert verify_store(target).sound


def test_a_copy_is_never_installed_over_a_store(tmp_path: Path) -> None:
    with filled(tmp_path) as store, pytest.raises(DataDirError, match="already holds a store"):
        copy_into(store, tmp_path)


def test_a_restored_store_ends_at_what_the_backup_applied_in_a_configuration_of_its_own(
    tmp_path: Path,
) -> None:
    with filled(tmp_path / "source") as store:
        persist(store, None, [entry(20, one(20, "s", "UNAPPLIED"))])
        manifest = copy_into(store, tmp_path / "restored")
    assert (manifest.applied_index, manifest.last_index) == (19, 20)
    voters = Membership.of([7, 8, 9], (), {7: "h:1", 8: "h:2", 9: "h:3"})
    copies.install(tmp_path / "restored", copies.restored_as(8, "new-cluster", voters))
    with LmdbStorage.open(tmp_path / "restored", cluster_id="new-cluster", node_id=8) as restored:
        assert restored.last_index() == restored.applied_index() == 19
        assert restored.hard_state() == HardState(term=Term(1), vote=NodeId(0), commit=LogIndex(19))
        assert restored.base_membership() == (19, voters)
        assert restored.digest().hex() == manifest.digest
    assert verify_store(tmp_path / "restored").sound
