"""``eventraft backup`` and ``eventraft restore``: a consistent copy of a store with its
manifest, from a live cluster or a stopped directory; and a new cluster seeded from one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import attrs
import click

from eventlog.errors import EventLogError
from eventlog.protocol.addresses import parse_addresses
from eventlog.records import Manifest
from eventlog.security.tls import TLSConfig
from eventraft.backups import backup_from_cluster, backup_from_directory
from eventraft.backups import restore as restore_store
from eventraft.cli.errors import fail
from eventraft.cli.options import timeout_option
from eventraft.cli.tls_options import client_options

__all__ = [
    "backup",
    "restore",
]


def _said(manifest: Manifest) -> str:
    return (
        f"cluster {manifest.cluster_id} at position {manifest.last_position} "
        f"(entry {manifest.applied_index}), digest {manifest.digest[:16]}"
    )


@click.command()
@click.option(
    "--cluster",
    "addresses",
    metavar="ADDRS",
    help="Back up a live cluster: HOST:PORT of one or more nodes (the leader's store is "
    "copied while it serves).  [required: this or --data-dir]",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Back up the store in this directory: a stopped node's or an embedded one.  "
    "[required: this or --cluster]",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="A new (or empty) directory for the backup: data.mdb and manifest.json.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@timeout_option(60.0, "reaching the cluster")
@client_options
def backup(
    addresses: str | None,
    data_dir: Path | None,
    out: Path,
    as_json: bool,
    timeout: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> None:
    """Take a consistent copy of a store, with a manifest of what it holds."""
    if (addresses is None) == (data_dir is None):
        raise click.UsageError("give either --cluster or --data-dir")
    try:
        if addresses is not None:
            listed = parse_addresses(addresses)
            manifest = asyncio.run(backup_from_cluster(listed, out, timeout, tls, credentials))
        else:
            assert data_dir is not None
            manifest = backup_from_directory(data_dir, out)
    except EventLogError as error:
        fail(error)
    if as_json:
        click.echo(json.dumps(attrs.asdict(manifest), sort_keys=True))
    else:
        click.echo(f"backed up {_said(manifest)} into {out}")


@click.command()
@click.option(
    "--from",
    "backup_dir",
    required=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="A backup directory that `eventraft backup` made.",
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The new node's data directory (new, or empty).",
)
@click.option(
    "--id",
    "node_id",
    type=click.IntRange(min=1),
    required=True,
    help="This node's id in --cluster.",
)
@click.option(
    "--cluster",
    "cluster_map",
    required=True,
    metavar="ID=HOST:PORT,...",
    help="Every node of the new cluster; restore each from the same backup with the same map.",
)
@click.option(
    "--cluster-token",
    default="",
    help="Mixed into the new cluster's id, so that two clusters restored from one backup "
    "onto the same addresses differ.  [default: none]",
)
def restore(
    backup_dir: Path, data_dir: Path, node_id: int, cluster_map: str, cluster_token: str
) -> None:
    """Seed one node of a new cluster (with a new cluster id) from a backup, after checking
    the backup whole and against its manifest."""
    from eventlog.node.process import parse_cluster_map

    try:
        members = {n: f"{h}:{p}" for n, (h, p) in parse_cluster_map(cluster_map).items()}
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--cluster") from error
    try:
        manifest, cluster_id = restore_store(backup_dir, data_dir, node_id, members, cluster_token)
    except EventLogError as error:
        fail(error)
    click.echo(
        f"restored {_said(manifest)} as node {node_id} of cluster {cluster_id}; start it with "
        f"`eventraft node --id {node_id} --cluster {cluster_map} --data-dir {data_dir}`"
    )
