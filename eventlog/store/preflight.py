"""What a node checks of ``data.mdb`` before LMDB maps it: LMDB trusts its file, and a file
cut short (a full disk, a bad copy) makes it read past the end of the mapping, which kills
the process with SIGBUS before anything is logged. So the two meta pages are read here, with
plain file reads: both must be LMDB's, and the file must reach the last page the newest of
them names.

The meta page layout is LMDB's own (``MDB_meta`` after a 16-byte page header, native byte
order, which is little-endian on every platform this runs on).
"""

from __future__ import annotations

import struct
from pathlib import Path

from eventlog.errors import DataDirError

__all__ = [
    "DATA_FILE",
    "check_data_file",
]

DATA_FILE = "data.mdb"
_MAGIC = 0xBEEFC0DE
_VERSION = 1
_PAGE_HEADER = 16
_HEAD = struct.Struct("<II")  # mm_magic, mm_version
_DB_RECORD = 48  # sizeof(MDB_db)
_PAGE_SIZE_AT = _PAGE_HEADER + 24  # mm_dbs[FREE_DBI].md_pad holds the page size
_TAIL = struct.Struct("<QQ")  # mm_last_pg, mm_txnid
_TAIL_AT = _PAGE_SIZE_AT + 2 * _DB_RECORD
_MIN_PAGE = 512


def check_data_file(directory: Path) -> None:
    """Refuse a ``data.mdb`` that LMDB could not open safely, naming what is wrong. A missing
    or empty file is a store not made yet, which LMDB creates."""
    path = directory / DATA_FILE
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            if size == 0:
                return
            file.seek(0)
            first = file.read(_TAIL_AT + _TAIL.size)
            page_size = _page_size(directory, first, size)
            file.seek(page_size)
            second = file.read(_TAIL_AT + _TAIL.size)
    except FileNotFoundError:
        return
    except OSError as error:
        raise DataDirError(directory, f"cannot read {DATA_FILE}: {error.strerror}") from error
    metas = [_meta(directory, page, number) for number, page in enumerate((first, second))]
    last_page, _ = max(metas, key=lambda meta: meta[1])
    needed = (last_page + 1) * page_size
    if size < needed:
        raise DataDirError(
            directory,
            f"{DATA_FILE} is truncated: {size:,} bytes, but its last page ends at {needed:,}"
            " (restore it from a copy, or replace this node from a healthy member)",
        )


def _page_size(directory: Path, first: bytes, size: int) -> int:
    if len(first) < _TAIL_AT + _TAIL.size or _HEAD.unpack_from(first, _PAGE_HEADER)[0] != _MAGIC:
        raise DataDirError(directory, f"{DATA_FILE} is not an LMDB file")
    page_size: int = struct.unpack_from("<I", first, _PAGE_SIZE_AT)[0]
    if page_size < _MIN_PAGE or page_size & (page_size - 1):
        raise DataDirError(directory, f"{DATA_FILE} names a page size of {page_size}")
    if size < 2 * page_size:
        raise DataDirError(
            directory, f"{DATA_FILE} is truncated: {size:,} bytes, less than its two meta pages"
        )
    return page_size


def _meta(directory: Path, page: bytes, number: int) -> tuple[int, int]:
    """``(last page, transaction id)`` of meta page ``number``."""
    if len(page) < _TAIL_AT + _TAIL.size:
        raise DataDirError(directory, f"{DATA_FILE} is truncated inside meta page {number}")
    magic, version = _HEAD.unpack_from(page, _PAGE_HEADER)
    if magic != _MAGIC or version != _VERSION:
        raise DataDirError(directory, f"{DATA_FILE} has a damaged meta page {number}")
    last_page, txn_id = _TAIL.unpack_from(page, _TAIL_AT)
    return last_page, txn_id
