"""Where a target's files live: the path users name is a symbolic link to a *generation*.

``balances.db`` links to ``balances.g1.db`` beside it; a rebuild writes ``balances.g2.db``
while ``g1`` keeps serving, then replaces the link in one ``rename``, so every reader that
opens ``balances.db`` afterwards gets the new one and no reader ever sees a half-built model.
A generation is never renamed, so SQLite's ``-wal``/``-shm`` files and LMDB's lock file,
which belong to the real file name, never get attached to another database.

A target that already exists as a plain file (say a SQLite database made before) is used as
it is; a rebuild replaces it with a link. A plain directory cannot be swapped atomically
(``rename`` will not replace a directory with a link), so it must be moved aside first.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from projections.errors import TargetError

SIDECARS = ("-wal", "-shm", "-journal")
_GENERATION = re.compile(r"\.g(\d+)\Z")


def current(path: Path) -> Path | None:
    """The concrete file or directory the target path stands for now (None if none yet)."""
    if path.is_symlink():
        return path.parent / os.readlink(path)
    return path if path.exists() else None


def generation_path(path: Path, number: int) -> Path:
    """``balances.db`` -> ``balances.g3.db``; ``model`` -> ``model.g3``."""
    return path.with_name(f"{path.stem}.g{number}{path.suffix}")


def _number(path: Path, candidate: Path) -> int | None:
    if candidate.suffix != path.suffix:
        return None
    match = _GENERATION.search(candidate.stem)
    if match is None or candidate.stem[: match.start()] != path.stem:
        return None
    return int(match.group(1))


def reserve(path: Path, *, directory: bool) -> Path:
    """Create the next free generation beside ``path``, empty, and return it. Creation is
    exclusive, so two rebuilds never get the same one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    taken = [_number(path, entry) for entry in path.parent.iterdir()]
    number = max((n for n in taken if n is not None), default=0) + 1
    while True:
        candidate = generation_path(path, number)
        try:
            if directory:
                candidate.mkdir()
            else:
                os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return candidate
        except FileExistsError:
            number += 1


def switch(path: Path, generation: Path) -> Path | None:
    """Point ``path`` at ``generation`` in one atomic rename; return what it pointed at."""
    previous = current(path)
    if path.is_dir() and not path.is_symlink():
        raise TargetError(
            path, "is a plain directory, which cannot be replaced atomically: move it aside"
        )
    link = path.with_name(f".{path.name}.switch-{os.getpid()}")
    link.unlink(missing_ok=True)
    os.symlink(generation.name, link)
    os.replace(link, path)
    _sync_dir(path.parent)
    return previous


def remove(generation: Path) -> None:
    """Delete a generation no link points at any more, with SQLite's side files. Given the
    target path itself (a plain file that ``switch`` replaced with a link), only the side
    files are left to delete."""
    if generation.is_symlink():
        names = [f"{generation}{suffix}" for suffix in SIDECARS]
    elif generation.is_dir():
        shutil.rmtree(generation, ignore_errors=True)
        return
    else:
        names = [f"{generation}{suffix}" for suffix in ("", *SIDECARS)]
    for name in names:
        Path(name).unlink(missing_ok=True)


def _sync_dir(directory: Path) -> None:
    """Make the rename durable, not only atomic."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
