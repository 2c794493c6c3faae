"""Whole copies of a store: taken from a live one without stopping it, installed whole or not
at all.

A copy is LMDB's own copy of one read transaction (``mdb_env_copyfd``): consistent, taken
while the node goes on writing, and a valid store as it stands. Its ``Manifest`` is read in
the same transaction, so it names exactly what the copy holds: its cluster, the last entry
applied, the position and the digest there.

Installing goes through ``incoming/`` inside the data directory: the bytes are written and
fsynced there, the copy is made this node's (its id, a new store id, no vote of another
node's), and only then does one ``rename`` put ``data.mdb`` in place. A crash at any point
leaves either no store (and ``incoming/``, which the next attempt clears) or the whole one.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import lmdb

from eventlog.errors import DataDirError
from eventlog.raft.membership import Membership
from eventlog.raft.records import HardState
from eventlog.records import MANIFEST, Manifest
from eventlog.store import members, raftlog, sealed
from eventlog.store.alarms import fsync_path
from eventlog.store.applied import load_cache
from eventlog.store.codecs import Q, encode_hard_state
from eventlog.store.layout import (
    DB_NAMES,
    FORMAT_VERSION,
    HARD_STATE_KEY,
    INCOMING_DIR,
    M_CLUSTER,
    M_INCARNATION,
    M_NODE,
    Dbs,
    Txn,
    new_incarnation,
    open_existing,
)
from eventlog.types import NO_NODE, LogIndex, Term

__all__ = [
    "INCOMING",
    "MANIFEST",
    "clear_incoming",
    "install",
    "made_ours",
    "manifest_of",
    "restored_as",
]

INCOMING = INCOMING_DIR


def manifest_of(txn: Txn, dbs: Dbs) -> Manifest:
    cache = load_cache(txn, dbs)
    node = sealed.get(txn, dbs.meta, "meta", M_NODE)
    return Manifest(
        cluster_id=cache.cluster_id,
        node_id=Q.unpack(node)[0] if node is not None else 0,
        applied_index=int(cache.applied_index),
        last_index=int(cache.last_index),
        last_position=int(cache.last_position),
        digest=cache.digest.hex(),
        format=FORMAT_VERSION,
        taken_ms=int(time.time() * 1000),
    )


def clear_incoming(directory: Path) -> Path:
    """An empty ``incoming/`` in ``directory``; what a transfer that broke off left is gone."""
    if (directory / "data.mdb").exists():
        raise DataDirError(directory, "already holds a store: a copy is installed into none")
    incoming = directory / INCOMING
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir(parents=True)
    return incoming


def install(directory: Path, rewrite: Callable[[Txn, Dbs], None]) -> None:
    """Make the copy in ``incoming/data.mdb`` the store of ``directory``: fsync it, let
    ``rewrite`` make it this node's in one transaction, then move it into place atomically."""
    incoming = directory / INCOMING
    data = incoming / "data.mdb"
    fsync_path(data)
    env = lmdb.open(str(incoming), max_dbs=len(DB_NAMES), map_size=_map_size(data), sync=True)
    try:
        dbs = open_existing(env, incoming)
        with env.begin(write=True) as txn:
            rewrite(txn, dbs)
        env.sync(True)
    finally:
        env.close()
    os.replace(data, directory / "data.mdb")
    fsync_path(directory)
    shutil.rmtree(incoming, ignore_errors=True)


def made_ours(node_id: int) -> Callable[[Txn, Dbs], None]:
    """A copy of a member's store, for node ``node_id`` joining the same cluster: its own id
    and store id; the term the copy knew, with no vote (the vote was the other node's)."""

    def rewrite(txn: Txn, dbs: Dbs) -> None:
        _own(txn, dbs, node_id)
        state = load_cache(txn, dbs).hard_state
        _put_hard_state(txn, dbs, HardState(term=state.term, vote=NO_NODE, commit=state.commit))

    return rewrite


def restored_as(node_id: int, cluster_id: str, voters: Membership) -> Callable[[Txn, Dbs], None]:
    """A backup, for node ``node_id`` of a new cluster ``cluster_id`` whose voters are
    ``voters``: the log ends at the last entry the backup applied (everything after it was
    not known to be committed), all of it committed, and the configuration is ``voters``
    from there on (the old cluster's configuration entries are below it)."""

    def rewrite(txn: Txn, dbs: Dbs) -> None:
        _own(txn, dbs, node_id)
        applied = load_cache(txn, dbs).applied_index
        raftlog.truncate(txn, dbs, LogIndex(applied + 1))
        term = raftlog.read_entry(txn, dbs, applied).term if applied else Term(0)
        _put_hard_state(txn, dbs, HardState(term=term, vote=NO_NODE, commit=applied))
        members.write_base(txn, dbs, applied, voters)
        sealed.put(txn, dbs.meta, M_CLUSTER, cluster_id.encode())

    return rewrite


def _own(txn: Txn, dbs: Dbs, node_id: int) -> None:
    sealed.put(txn, dbs.meta, M_NODE, Q.pack(node_id))
    sealed.put(txn, dbs.meta, M_INCARNATION, new_incarnation())


def _put_hard_state(txn: Txn, dbs: Dbs, state: HardState) -> None:
    sealed.put(txn, dbs.raft_state, HARD_STATE_KEY, encode_hard_state(state))


def _map_size(data: Path) -> int:
    """Room to rewrite a few records of a copy: its size, doubled."""
    return max(1 << 20, 2 * data.stat().st_size)
