"""Every value a node stores carries a checksum of its key and its bytes (xxh3-64), written in
the same transaction and verified on every read, so a changed byte anywhere (a disk, a
filesystem, a hand) is a ``CorruptRecord`` naming the table and key, never served.

The checksum is seeded by the key, so a value that ends up under another key fails too. It
trails the value: ``value + >Q xxh3_64(value, seed=xxh3_64(key))``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any

from xxhash import xxh3_64_intdigest

from eventlog.errors import CorruptRecord

__all__ = [
    "SUM_BYTES",
    "checksum",
    "get",
    "items",
    "put",
    "put_many",
    "seal",
    "unseal",
    "verify",
]

_SUM = struct.Struct(">Q")
SUM_BYTES = _SUM.size


def checksum(key: bytes, value: bytes | memoryview) -> int:
    return xxh3_64_intdigest(value, xxh3_64_intdigest(key))


def seal(key: bytes, value: bytes) -> bytes:
    return value + _SUM.pack(checksum(key, value))


def verify(table: str, key: bytes, raw: bytes, label: object = None) -> int:
    """The length of the value ``raw`` holds under ``key``, once its checksum holds (checked
    in place, nothing copied); ``label`` names the record in the error (the key's number,
    say), else the key itself."""
    end = len(raw) - SUM_BYTES
    if end < 0 or _SUM.unpack_from(raw, end)[0] != checksum(key, memoryview(raw)[:end]):
        raise CorruptRecord(table, key if label is None else label, "checksum mismatch")
    return end


def unseal(table: str, key: bytes, raw: bytes, label: object = None) -> bytes:
    """The value ``raw`` holds under ``key``, once its checksum holds."""
    return raw[: verify(table, key, raw, label)]


def get(txn: Any, db: Any, table: str, key: bytes, label: object = None) -> bytes | None:
    raw = txn.get(key, db=db)
    return None if raw is None else unseal(table, key, raw, label)


def put(txn: Any, db: Any, key: bytes, value: bytes) -> None:
    txn.put(key, seal(key, value), db=db)


def put_many(cursor: Any, rows: Iterable[tuple[bytes, bytes]], *, append: bool = False) -> None:
    cursor.putmulti([(key, seal(key, value)) for key, value in rows], append=append)


def items(rows: Iterable[tuple[bytes, bytes]], table: str) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` of a cursor's walk, each value checked."""
    for key, raw in rows:
        yield key, unseal(table, key, raw)
