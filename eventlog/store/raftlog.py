"""The Raft log in LMDB: the entries the core reads through its ``LogStorage`` port, and the
one rule for writing them (a suffix replaces what it overlaps, never an applied entry)."""

from __future__ import annotations

from collections.abc import Sequence

from eventlog.errors import CorruptRecord, InvariantViolation
from eventlog.raft.records import Entry
from eventlog.raft.storage import EntryUnavailable, StorageError
from eventlog.store import members
from eventlog.store.codecs import Q, decode_entry, encode_entry
from eventlog.store.layout import Dbs, Txn
from eventlog.types import LogIndex

__all__ = [
    "check_append",
    "check_unavailable",
    "read_entries",
    "read_entry",
    "truncate",
    "write_entries",
]


def read_entries(
    txn: Txn, dbs: Dbs, lo: LogIndex, hi: LogIndex, max_bytes: int | None
) -> list[Entry]:
    """Entries in ``[lo, hi)`` (``hi`` at most one past the last); stops once over
    ``max_bytes`` but returns at least one."""
    result: list[Entry] = []
    if lo >= hi:
        return result
    total = 0
    cursor = txn.cursor(db=dbs.raft_log)
    cursor.set_range(Q.pack(lo))
    for key, value in cursor:
        index = lo + len(result)
        if key != Q.pack(index):
            raise CorruptRecord("raft_log", index, "entry missing inside the log")
        entry = decode_entry(index, value)
        total += entry.size
        if max_bytes is not None and total > max_bytes and result:
            return result
        result.append(entry)
        if index + 1 == hi:
            return result
    raise CorruptRecord("raft_log", lo + len(result), "entry missing at the end of the log")


def read_entry(txn: Txn, dbs: Dbs, index: LogIndex) -> Entry:
    return decode_entry(index, txn.get(Q.pack(index), db=dbs.raft_log))


def check_append(entries: Sequence[Entry], last_index: LogIndex, applied: LogIndex) -> None:
    """Entries must follow on from the log (or overlap its unapplied tail), consecutively."""
    first, last = entries[0].index, entries[-1].index
    if first > last_index + 1 or first < 1:
        raise StorageError(f"gap in log: appending {first} after {last_index}")
    if last - first + 1 != len(entries):
        raise StorageError(f"entries {first}..{last} are not consecutive")
    if first <= applied:
        raise InvariantViolation(f"replacing entry {first}, already applied up to {applied}")


def write_entries(txn: Txn, dbs: Dbs, entries: Sequence[Entry], last_index: LogIndex) -> None:
    """Write checked entries, deleting whatever the log held from the first one on."""
    first = entries[0].index
    if first <= last_index:
        truncate(txn, dbs, first)
    cursor = txn.cursor(db=dbs.raft_log)
    cursor.putmulti([(Q.pack(e.index), encode_entry(e)) for e in entries], append=True)
    members.index_entries(txn, dbs, entries)


def truncate(txn: Txn, dbs: Dbs, first: LogIndex) -> None:
    """The log loses every entry from ``first`` on, and with them their configurations."""
    cursor = txn.cursor(db=dbs.raft_log)
    if cursor.set_range(Q.pack(first)):
        while cursor.delete():
            pass
    members.forget_from(txn, dbs, first)


def check_unavailable(lo: LogIndex, hi: LogIndex, last_index: LogIndex) -> None:
    if lo < 1 or hi > last_index + 1:
        raise EntryUnavailable(LogIndex(lo if lo < 1 else hi - 1))
