"""The corruption alarm, kept beside the store rather than in it: a node that found its store
damaged must still say so after a restart, and writing into the damaged LMDB file may be what
fails. The file holds one JSON object; it is written whole (a temporary file renamed over it,
then fsynced) and removed by the operator who replaced the store."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

__all__ = [
    "ALARM_FILE",
    "record_corruption",
    "recorded_corruption",
]

ALARM_FILE = "corrupt.alarm"


def record_corruption(directory: Path, detail: str) -> None:
    path = directory / ALARM_FILE
    temporary = path.with_suffix(".tmp")
    body = json.dumps({"kind": "corrupt", "detail": detail, "at": time.time()})
    with temporary.open("w") as file:
        file.write(body)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    descriptor = os.open(directory, os.O_RDONLY)
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
