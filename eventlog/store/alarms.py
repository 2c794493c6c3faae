"""Files kept beside the store rather than in it, each one JSON object written whole (a
temporary file renamed over it, then fsynced): the corruption alarm, since a node that found
its store damaged must still say so after a restart and writing into the damaged LMDB file may
be what fails (the operator who replaced the store removes it); and the store ids of the peers
a node has met, written from the event loop, where no LMDB write may wait for the writer."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

__all__ = [
    "ALARM_FILE",
    "FILES_BESIDE",
    "PEERS_FILE",
    "fsync_path",
    "record_corruption",
    "recorded_corruption",
    "write_whole",
]

ALARM_FILE = "corrupt.alarm"
PEERS_FILE = "peers.json"
"""The store ids of the peers a node has met (``eventlog.node.incarnations``)."""
_TEMPORARY = ".tmp"
FILES_BESIDE = frozenset(
    name for kept in (ALARM_FILE, PEERS_FILE) for name in (kept, Path(kept).stem + _TEMPORARY)
)
"""Every file this module may leave in a data directory."""


def record_corruption(directory: Path, detail: str) -> None:
    body = json.dumps({"kind": "corrupt", "detail": detail, "at": time.time()})
    write_whole(directory / ALARM_FILE, body)


def write_whole(path: Path, body: str) -> None:
    """Replace ``path`` with ``body`` durably: all of it or, after a crash, what was there."""
    temporary = path.with_suffix(_TEMPORARY)
    directory = path.parent
    with temporary.open("w") as file:
        file.write(body)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_path(directory)


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by name (a directory: to make a rename in it durable)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def recorded_corruption(directory: Path) -> str | None:
    """The detail of the alarm raised on this store, if one was."""
    try:
        raw = (directory / ALARM_FILE).read_text()
    except (FileNotFoundError, NotADirectoryError):  # no alarm; opening says what is wrong
        return None
    try:
        detail = json.loads(raw)["detail"]
        return str(detail)
    except (ValueError, KeyError, TypeError):
        return f"an alarm file that does not decode: {raw[:100]!r}"
