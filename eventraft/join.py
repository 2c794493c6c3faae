"""Before a node added with ``eventraft member add`` first starts: make its store from the
cluster's.

With ``copy`` (the default) the node asks the leader for a consistent copy of its store,
writes it to ``incoming/``, makes it its own and installs it in one rename (``store.copies``);
Raft then sends only what was appended since the copy. With ``entries`` it opens an empty
store in the cluster's configuration and Raft sends the whole log, entry by entry, every
event applied again: the slow way, kept for comparison and for stores too big to copy at once.

A node whose directory already holds a store joined before: it starts as the member it is.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path

import structlog

from eventlog.client.async_client import AsyncClient
from eventlog.errors import ConfigError, Unavailable
from eventlog.node.config import NodeConfig
from eventlog.raft.membership import Membership
from eventlog.store import copies
from eventlog.store.layout import prepare_dir
from eventlog.store.ownership import DirLock
from eventlog.store.storage import LmdbStorage
from eventlog.types import LogIndex

__all__ = [
    "COPY_ATTEMPTS",
    "CatchUp",
    "join",
]

COPY_ATTEMPTS = 5
"""Copies tried before the join gives up (each one cut off is started again from nothing)."""


class CatchUp(enum.Enum):
    COPY = "copy"
    ENTRIES = "entries"


async def join(
    config: NodeConfig,
    cluster: Sequence[str],
    catch_up: CatchUp = CatchUp.COPY,
    timeout: float = 30.0,
) -> None:
    """Make the store of ``config.data_dir`` from the cluster at ``cluster``, unless it has
    one; ``ConfigError`` if this node was not added to the cluster (or at another address)."""
    directory = Path(config.data_dir)
    if (directory / "data.mdb").exists():
        return
    log = structlog.get_logger(__name__).bind(node_id=config.node_id)
    client = AsyncClient(cluster, timeout=timeout, tls=config.tls)
    try:
        await _check_added(client, config)
        if catch_up is CatchUp.ENTRIES:
            await _empty_store(client, config)
            return
        lock = DirLock.take(prepare_dir(directory))  # no other process installs meanwhile
        try:
            await _copy(client, directory, config, log)
        finally:
            lock.release()
    finally:
        await client.close()


async def _check_added(client: AsyncClient, config: NodeConfig) -> None:
    host, port = config.addresses[config.node_id]
    listen = f"{host}:{port}"
    me = next((m for m in await client.members() if m.id == config.node_id), None)
    if me is None:
        raise ConfigError(
            f"node {config.node_id} is not a member of the cluster: add it first with "
            f"`eventraft member add --id {config.node_id} --address {listen}`"
        )
    if me.address != listen:
        raise ConfigError(
            f"node {config.node_id} was added at {me.address}, but is told to listen at {listen}"
        )


async def _copy(
    client: AsyncClient,
    directory: Path,
    config: NodeConfig,
    log: structlog.typing.FilteringBoundLogger,
) -> None:
    for attempt in range(1, COPY_ATTEMPTS + 1):
        incoming = copies.clear_incoming(directory)
        try:
            await client.members()  # the leader now, which a copy cut off may have changed
            with open(incoming / "data.mdb", "wb") as out:
                manifest = await client.copy_store(out.write)
        except Unavailable as error:
            log.warning("copy_failed", attempt=attempt, reason=str(error))
            if attempt == COPY_ATTEMPTS:
                raise
            continue
        if config.cluster_id is not None and manifest.cluster_id != config.cluster_id:
            raise ConfigError(f"the cluster is {manifest.cluster_id}, not {config.cluster_id}")
        copies.install(directory, copies.made_ours(config.node_id))
        log.info(
            "copy_installed",
            applied_index=manifest.applied_index,
            last_position=manifest.last_position,
            from_node=manifest.node_id,
        )
        return


async def _empty_store(client: AsyncClient, config: NodeConfig) -> None:
    cluster_id, index, base = await client.base_configuration()
    membership = Membership.of(base.voters, base.learners, base.addresses)
    LmdbStorage.open(
        config.data_dir,
        cluster_id=cluster_id,
        node_id=config.node_id,
        sync=config.sync,
        base=(LogIndex(index), membership),
    ).close()
