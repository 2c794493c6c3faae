"""The on-disk layout of a node's LMDB environment, and the mechanics of using it safely.

Keys are big-endian so byte order is numeric order. Tables (LMDB named databases):

    raft_log       >Q index                 -> >QB term, kind + data
    raft_state     b"hard_state"            -> msgpack [term, vote, commit]
    meta           name                     -> value (see ``M_*``)
    positions      >Q position              -> >QIQ log_index, ordinal, version
    stream_ids     stream key               -> >Q stream id (local to this node)
    stream_index   >Q id + >Q version       -> >Q position
    stream_heads   >Q id                    -> >Q version
    requests       request id               -> msgpack Outcome.to_record()
    request_times  >Q applied_ms + id       -> b"" (expiry order of ``requests``)
    leases         name (utf-8)             -> msgpack [owner, token, expires_ms, checkpoint]
    tracking       name (utf-8)             -> >Q position (``records.Tracking``)

Records are encoded in ``codecs``. Opening checks that a directory is ours (format, cluster,
node); writes go through ``write_txn``, which grows a full map and retries, so nothing is ever
half-written.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs
import lmdb

from eventlog.errors import CorruptRecord, DataDirError, StorageFull
from eventlog.logs import library_logger
from eventlog.raft.storage import StorageError
from eventlog.store import sealed
from eventlog.store.alarms import FILES_BESIDE
from eventlog.store.codecs import Q, u64
from eventlog.store.ownership import LOCK_FILE

__all__ = [
    "DB_NAMES",
    "FORMAT_VERSION",
    "HARD_STATE_KEY",
    "INCOMING_DIR",
    "MAX_MAP_SIZE",
    "M_ACCESS",
    "M_APPLIED",
    "M_CLOCK",
    "M_CLUSTER",
    "M_DIGEST",
    "M_FORMAT",
    "M_INCARNATION",
    "M_LEASE_TOKEN",
    "M_NODE",
    "M_POSITION",
    "M_STREAMS",
    "UNSEALED_FORMAT",
    "Dbs",
    "Gate",
    "Txn",
    "check_format",
    "check_readable",
    "grow_map",
    "init_or_check",
    "new_incarnation",
    "open_existing",
    "prepare_dir",
    "seal_every_record",
    "stored_cluster_id",
    "stored_format",
    "write_txn",
]

FORMAT_VERSION = 3
"""3: every value sealed with its checksum (``sealed``)."""
UNSEALED_FORMAT = 2
"""The one earlier format a writable open upgrades (in the same transaction)."""
MAX_MAP_SIZE = 1 << 40
"""The map doubles on demand up to this; past it a write raises ``StorageFull``."""

T = TypeVar("T")
Txn = Any  # lmdb ships no type hints

INCOMING_DIR = "incoming"
"""Where a store copied from another node waits, inside the data directory, until it is
installed whole (``store.copies``)."""
_STORE_FILES = frozenset({"data.mdb", "lock.mdb", LOCK_FILE, INCOMING_DIR}) | FILES_BESIDE
HARD_STATE_KEY = b"hard_state"
M_FORMAT, M_CLUSTER, M_NODE = b"format", b"cluster_id", b"node_id"
M_APPLIED, M_POSITION, M_DIGEST = b"applied_index", b"last_position", b"digest"
M_STREAMS = b"stream_count"
M_CLOCK = b"clock_ms"
M_LEASE_TOKEN = b"lease_token"
M_INCARNATION = b"incarnation"
"""A random id made with the store: a node that comes back on another store (emptied,
replaced) says another one, and its peers know it is not the node they knew."""
M_ACCESS = b"access"
"""The auth store (``eventlog.security.access``), whole; absent until its first change."""


@attrs.frozen(slots=True)
class Dbs:
    """Handles of the named databases, opened once per environment."""

    raft_log: Any
    raft_state: Any
    meta: Any
    positions: Any
    stream_ids: Any
    stream_index: Any
    stream_heads: Any
    requests: Any
    request_times: Any
    leases: Any
    tracking: Any


DB_NAMES = tuple(field.name for field in attrs.fields(Dbs))


@attrs.define
class Gate:
    """Transactions share the gate; growing the map takes it alone, since LMDB allows
    ``mdb_env_set_mapsize`` only while no transaction of the process is active, and a node
    writes in a worker thread while it serves reads."""

    _cond: threading.Condition = attrs.field(factory=threading.Condition)
    _active: int = 0
    _growing: bool = False

    @contextmanager
    def txn(self, env: Any, write: bool = False) -> Iterator[Txn]:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: not self._growing)
                self._active += 1
            try:
                begun = env.begin(write=write)
            except lmdb.MapResizedError:
                # A reader beside the writing process: the writer grew the map; take its size.
                self._leave()
                self._alone(env, lambda: env.set_mapsize(0))
                continue
            except BaseException:
                self._leave()
                raise
            break
        try:
            with begun as txn:
                yield txn
        except (lmdb.CorruptedError, lmdb.PageNotFoundError) as error:
            raise CorruptRecord("data.mdb", env.path(), str(error)) from error
        except lmdb.Error as error:
            if write:  # ``write_txn`` tells a full map from the rest
                raise
            raise StorageError(f"LMDB read failed: {error}") from error
        finally:
            self._leave()

    def _leave(self) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify_all()

    def grow(self, env: Any) -> None:
        self._alone(env, lambda: grow_map(env))

    def _alone(self, env: Any, change: Callable[[], None]) -> None:
        """Run ``change`` to the map while no transaction of this process is active."""
        with self._cond:
            self._cond.wait_for(lambda: not self._growing)
            self._growing = True
            self._cond.wait_for(lambda: self._active == 0)
        try:
            change()
        finally:
            with self._cond:
                self._growing = False
                self._cond.notify_all()


# -- opening helpers ---------------------------------------------------------------------------
def prepare_dir(path: Path) -> Path:
    """Create the directory, or check that what it holds can only be an LMDB environment."""
    if path.exists() and not path.is_dir():
        raise DataDirError(path, "exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        foreign = sorted(set(os.listdir(path)) - _STORE_FILES)
    except OSError as error:
        raise DataDirError(path, f"cannot create or list it: {error.strerror}") from error
    if foreign:
        raise DataDirError(path, f"holds files that are not an eventraft store: {foreign[:5]}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataDirError(path, "is not writable")
    return path


def check_readable(path: Path) -> Path:
    """A directory to read beside its writer: it must already hold a store."""
    if not (path / "data.mdb").is_file():
        raise DataDirError(path, "holds no eventraft store to read")
    return path


def open_existing(env: Any, path: Path) -> Dbs:
    """The named databases of a store that exists, for reading only (opened outside any
    transaction: handles opened in a read transaction close with it). A table newer than the
    store (made by its next writable open) reads as empty."""
    try:
        return Dbs(*(_open_for_reading(env, name) for name in DB_NAMES))
    except lmdb.Error as error:
        raise DataDirError(path, f"not an eventraft store: {error}") from error


_NEWER_TABLES = frozenset({"tracking"})
"""Tables added since format 3 began: a store made before has none until a writable open."""


def _open_for_reading(env: Any, name: str) -> Any:
    try:
        return env.open_db(name.encode(), create=False)
    except lmdb.NotFoundError:
        if name not in _NEWER_TABLES:
            raise
        return None


def stored_format(txn: Txn, dbs: Dbs) -> int:
    """The store's format; up to format 2 its values were not sealed."""
    raw = txn.get(M_FORMAT, db=dbs.meta)
    if raw is not None and len(raw) == Q.size:
        return u64(raw, "meta", M_FORMAT)
    return u64(sealed.get(txn, dbs.meta, "meta", M_FORMAT), "meta", M_FORMAT)


def check_format(txn: Txn, dbs: Dbs, path: Path) -> None:
    found = stored_format(txn, dbs)
    if found == UNSEALED_FORMAT:
        raise DataDirError(path, f"format {found}: open it once writable to upgrade it")
    if found != FORMAT_VERSION:
        raise DataDirError(path, f"format {found}; this build reads {FORMAT_VERSION}")


def init_or_check(
    env: Any, txn: Txn, path: Path, cluster_id: str | None, node_id: int, fresh_id: str
) -> Dbs:
    """Open the named databases; initialise meta in the same transaction on a fresh store
    (as cluster ``cluster_id``, or ``fresh_id`` if none is pinned; empty: to be named by the
    log), else check the store's format, node and (if one is pinned) cluster against ours."""
    fresh = txn.get(b"meta") is None
    if fresh and txn.cursor().first():
        raise DataDirError(path, "holds an LMDB environment that is not an eventraft store")
    try:
        dbs = Dbs(*(env.open_db(name.encode(), txn=txn) for name in DB_NAMES))
    except lmdb.Error as error:
        raise DataDirError(path, f"not an eventraft store: {error}") from error
    if fresh:
        sealed.put(txn, dbs.meta, M_FORMAT, Q.pack(FORMAT_VERSION))
        sealed.put(txn, dbs.meta, M_CLUSTER, (cluster_id or fresh_id).encode())
        sealed.put(txn, dbs.meta, M_NODE, Q.pack(node_id))
        sealed.put(txn, dbs.meta, M_INCARNATION, new_incarnation())
        return dbs
    if stored_format(txn, dbs) == UNSEALED_FORMAT:
        seal_every_record(txn, dbs)
        sealed.put(txn, dbs.meta, M_FORMAT, Q.pack(FORMAT_VERSION))
    check_format(txn, dbs, path)
    stored_cluster = stored_cluster_id(txn, dbs)
    if cluster_id is not None and not stored_cluster:  # named now, by whoever started it
        sealed.put(txn, dbs.meta, M_CLUSTER, cluster_id.encode())
    elif cluster_id is not None and stored_cluster != cluster_id:
        raise DataDirError(path, f"belongs to cluster {stored_cluster!r}, not {cluster_id!r}")
    if sealed.get(txn, dbs.meta, "meta", M_INCARNATION) is None:  # made before store ids
        sealed.put(txn, dbs.meta, M_INCARNATION, new_incarnation())
    stored_node = u64(sealed.get(txn, dbs.meta, "meta", M_NODE), "meta", M_NODE)
    if stored_node != node_id:
        raise DataDirError(path, f"belongs to node {stored_node}, not node {node_id}")
    return dbs


def new_incarnation() -> bytes:
    return secrets.token_hex(8).encode()


def stored_cluster_id(txn: Txn, dbs: Dbs) -> str:
    return (sealed.get(txn, dbs.meta, "meta", M_CLUSTER) or b"").decode(errors="replace")


def seal_every_record(txn: Txn, dbs: Dbs) -> None:
    """Upgrade a store of format 2 in the transaction that opens it: every value gains its
    checksum, all at once or (on a crash) not at all."""
    for name in DB_NAMES:
        db = getattr(dbs, name)
        rows = list(txn.cursor(db=db))
        for key, value in rows:
            txn.put(key, sealed.seal(key, value), db=db)
    library_logger(__name__).info("store_upgraded", to_format=FORMAT_VERSION)


# -- writing with map growth -------------------------------------------------------------------
def write_txn(gate: Gate, env: Any, write: Callable[[Txn], T]) -> T:
    """Run ``write`` in one write transaction; if the map fills, the transaction is aborted
    (nothing half-written), the map doubles and ``write`` runs again from the start.

    Every commit is atomic and consistent after a crash and, unless the environment was
    opened without fsync, survives a power loss once it returns."""
    while True:
        try:
            with gate.txn(env, write=True) as txn:
                result = write(txn)
            return result
        except lmdb.MapFullError:
            gate.grow(env)
        except lmdb.Error as error:
            if isinstance(error, lmdb.DiskError) or "No space left" in str(error):
                raise StorageFull(f"disk full: {error}") from error
            if "Input/output error" in str(error) and _nearly_full(env.path()):
                # LMDB reports a short write (what a full disk gives) as EIO.
                raise StorageFull(f"disk full: {error} (its filesystem has no room)") from error
            raise StorageError(f"LMDB write failed: {error}") from error


FULL_BELOW_BYTES = 1 << 20
"""A filesystem with less room than this, for whoever writes, is full."""


def _nearly_full(path: str) -> bool:
    try:
        room = os.statvfs(path)
    except OSError:
        return False
    return room.f_bavail * room.f_frsize < FULL_BELOW_BYTES


def grow_map(env: Any) -> None:
    size = env.info()["map_size"]
    if size * 2 > MAX_MAP_SIZE:
        raise StorageFull(f"LMDB map of {size} bytes is full and may not grow past {MAX_MAP_SIZE}")
    env.set_mapsize(size * 2)
    library_logger(__name__).info("lmdb_map_grown", path=env.path(), map_size=size * 2)
