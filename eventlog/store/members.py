"""Who the store's cluster is: the configuration it started from, and an index of the
configuration entries of its log, so that a node opening a long log finds its configuration
without reading every entry.

    meta        b"base_membership"     -> >Q base index + Membership.encode()
    raft_state  b"config:" + >Q index  -> >Q term + the entry's data

The index is written in the transaction that writes the entries (``index_entries``), and
loses what a suffix replaces, exactly as the log does.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventlog.raft.membership import Membership
from eventlog.raft.records import Entry, EntryKind
from eventlog.store import sealed
from eventlog.store.codecs import Q, decode_entry, u64
from eventlog.store.layout import Dbs, Txn
from eventlog.types import LogIndex, Term

__all__ = [
    "CONFIG_PREFIX",
    "M_BASE",
    "M_CONFIG_INDEXED",
    "forget_from",
    "index_entries",
    "prepare",
    "read_base",
    "read_config_entries",
    "write_base",
]

M_BASE = b"base_membership"
M_CONFIG_INDEXED = b"config_indexed"
"""Set once the configuration entries of the log are indexed (stores made before are
indexed once, by their first writable open)."""
CONFIG_PREFIX = b"config:"


def read_base(txn: Txn, dbs: Dbs) -> tuple[LogIndex, Membership] | None:
    raw = sealed.get(txn, dbs.meta, "meta", M_BASE)
    if raw is None:
        return None
    return LogIndex(u64(raw[: Q.size], "meta", M_BASE)), Membership.decode(raw[Q.size :])


def write_base(txn: Txn, dbs: Dbs, index: LogIndex, base: Membership) -> None:
    sealed.put(txn, dbs.meta, M_BASE, Q.pack(index) + base.encode())


def read_config_entries(txn: Txn, dbs: Dbs) -> list[Entry]:
    cursor = txn.cursor(db=dbs.raft_state)
    entries: list[Entry] = []
    if not cursor.set_range(CONFIG_PREFIX):
        return entries
    for key, raw in sealed.items(cursor, "raft_state"):
        if not key.startswith(CONFIG_PREFIX):
            break
        index = u64(key[len(CONFIG_PREFIX) :], "raft_state", key)
        term = u64(raw[: Q.size], "raft_state", key)
        entries.append(
            Entry(term=Term(term), index=LogIndex(index), data=raw[Q.size :], kind=EntryKind.CONFIG)
        )
    return entries


def forget_from(txn: Txn, dbs: Dbs, first: LogIndex) -> None:
    """The log lost its entries from ``first`` on: so does the index."""
    cursor = txn.cursor(db=dbs.raft_state)
    if cursor.set_range(CONFIG_PREFIX + Q.pack(first)):
        while cursor.key().startswith(CONFIG_PREFIX) and cursor.delete():
            pass


def index_entries(txn: Txn, dbs: Dbs, entries: Sequence[Entry]) -> None:
    """The log gained ``entries`` (after whatever it lost, ``forget_from``)."""
    for entry in entries:
        if entry.kind is EntryKind.CONFIG:
            key = CONFIG_PREFIX + Q.pack(entry.index)
            sealed.put(txn, dbs.raft_state, key, Q.pack(entry.term) + entry.data)


def prepare(txn: Txn, dbs: Dbs, base: tuple[LogIndex, Membership] | None) -> None:
    """At a writable open: record ``base`` (an index, and the configuration in force from
    it) as the one the store started from if it records none yet, and index the log of a
    store made before the index was kept."""
    if base is not None and read_base(txn, dbs) is None:
        write_base(txn, dbs, *base)
    if sealed.get(txn, dbs.meta, "meta", M_CONFIG_INDEXED) is not None:
        return
    found: list[Entry] = []
    cursor = txn.cursor(db=dbs.raft_log)
    for key, value in cursor:
        entry = decode_entry(u64(key, "raft_log", key), value)
        if entry.kind is EntryKind.CONFIG:
            found.append(entry)
    index_entries(txn, dbs, found)
    sealed.put(txn, dbs.meta, M_CONFIG_INDEXED, b"1")
