"""Backups and restores: a consistent copy of a store with a manifest saying what it holds,
and a new cluster seeded from one.

A backup directory holds ``data.mdb`` (a store as LMDB copies it, in one read transaction)
and ``manifest.json`` (its cluster, the last entry it applied, the position and the digest
there), written last: a directory without a manifest is a backup that did not finish.

A restore checks the backup whole (``verify_store``: every checksum, the log replayed) and
against its manifest, then makes it the store of one node of a new cluster: a new cluster id
(derived, as etcd derives its own, from the backup and the new members, so every node of the
new cluster restored from the same backup with the same ``--cluster`` gets the same id), the
log up to the last entry applied, and the new members as its configuration from there on.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from eventlog.client.async_client import AsyncClient
from eventlog.errors import DataDirError
from eventlog.raft.membership import Membership
from eventlog.records import MANIFEST, Manifest
from eventlog.security.tls import TLSConfig
from eventlog.store import copies
from eventlog.store.alarms import fsync_path, write_whole
from eventlog.store.storage import LmdbStorage
from eventlog.store.verify import verify_store

__all__ = [
    "backup_from_cluster",
    "backup_from_directory",
    "read_manifest",
    "restore",
    "restored_cluster_id",
]

_PARTIAL = "data.mdb.partial"


def _out_dir(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataDirError(
            out, "exists and is not an empty directory: a backup goes into a new one"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def _finish(out: Path, manifest: Manifest) -> Manifest:
    partial = out / _PARTIAL
    fsync_path(partial)
    os.replace(partial, out / "data.mdb")
    write_whole(out / MANIFEST, manifest.to_json())
    return manifest


async def backup_from_cluster(
    addresses: Sequence[str],
    out: Path,
    timeout: float,
    tls: TLSConfig | None = None,
    credentials: tuple[str, str] | None = None,
) -> Manifest:
    """A copy of the leader's store, taken while the cluster serves."""
    _out_dir(out)
    client = AsyncClient(addresses, timeout=timeout, tls=tls, credentials=credentials)
    try:
        await client.members()  # finds the leader: its copy is the most recent
        with (out / _PARTIAL).open("wb") as file:
            manifest = await client.copy_store(file.write)
    except BaseException:
        (out / _PARTIAL).unlink(missing_ok=True)  # the directory stays empty, to try again
        raise
    finally:
        await client.close()
    return _finish(out, manifest)


def backup_from_directory(data_dir: Path, out: Path) -> Manifest:
    """A copy of a stopped node's store, or an embedded one (a live writer may go on)."""
    _out_dir(out)
    with LmdbStorage.open_readonly(data_dir) as store, (out / _PARTIAL).open("wb") as file:
        manifest = store.copy_to(file.fileno())
    return _finish(out, manifest)


def read_manifest(backup: Path) -> Manifest:
    path = backup / MANIFEST
    if not path.is_file():
        raise DataDirError(backup, f"holds no {MANIFEST}: not a backup, or one that did not finish")
    return Manifest.from_json(path.read_text(), backup)


def restored_cluster_id(manifest: Manifest, members: Mapping[int, str], token: str = "") -> str:
    spec = ",".join(f"{node}={address}" for node, address in sorted(members.items()))
    seed = f"{manifest.cluster_id}|{manifest.applied_index}|{manifest.digest}|{spec}|{token}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def restore(
    backup: Path, data_dir: Path, node_id: int, members: Mapping[int, str], token: str = ""
) -> tuple[Manifest, str]:
    """Seed ``data_dir`` (empty) as node ``node_id`` of a new cluster of ``members`` from
    ``backup``; the manifest it holds and the new cluster's id."""
    manifest = read_manifest(backup)
    if node_id not in members:
        raise DataDirError(
            data_dir, f"node {node_id} is not among the new members {sorted(members)}"
        )
    checked = verify_store(backup)
    if not checked.sound:
        raise DataDirError(backup, f"is damaged: {checked.problem}")
    with LmdbStorage.open_readonly(backup) as store:
        found = (store.cluster_id, int(store.applied_index()), int(store.last_position()))
        found_digest = store.digest().hex()
    said = (manifest.cluster_id, manifest.applied_index, manifest.last_position)
    if found != said or found_digest != manifest.digest:
        raise DataDirError(
            backup, f"holds {found} {found_digest}, its manifest says {said} {manifest.digest}"
        )
    cluster_id = restored_cluster_id(manifest, members, token)
    incoming = copies.clear_incoming(data_dir)
    shutil.copyfile(backup / "data.mdb", incoming / "data.mdb")
    voters = Membership.of(members, (), members)
    copies.install(data_dir, copies.restored_as(node_id, cluster_id, voters))
    return manifest, cluster_id
