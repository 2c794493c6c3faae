"""One writer per data directory: an exclusive OS lock, held for the whole life of whoever
opened the directory for writing (a node, the embedded store, a tool).

LMDB lets many processes share one environment, so its own lock file protects nothing here:
two writers would each run their own Raft log into the same files. The lock is ``flock`` on
a file of its own, which the OS drops when its holder exits however it exits (kill -9
included), and which two opens in one process also contend for. The holder writes its pid
into the file so the one refused can be told who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

import attrs

from eventlog.errors import DataDirError

__all__ = ["LOCK_FILE", "DirLock"]

LOCK_FILE = "eventraft.lock"


@attrs.define
class DirLock:
    path: Path
    _fd: int | None

    @classmethod
    def take(cls, directory: Path) -> DirLock:
        """Lock ``directory`` for this process, or raise ``DataDirError`` naming the holder;
        nothing in the directory is changed when it is refused."""
        path = directory / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise DataDirError(directory, f"cannot create {LOCK_FILE}: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise DataDirError(
                directory, f"is in use by another process (pid {holder}); one writer at a time"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the file drops the lock
            self._fd = None


def _holder(fd: int) -> str:
    """The pid the holder wrote, or "unknown" if it has not written it yet."""
    with contextlib.suppress(OSError, ValueError):
        return str(int(os.pread(fd, 32, 0).decode().strip()))
    return "unknown"
