"""What a leader proposes for its cluster while it is still unsettled: a name for a cluster
started without one, and the first admin (``eventlog.security.access``). The first of each
applied wins on every node; later ones change nothing, so any leader may propose them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from eventlog.protocol.hello import new_cluster_id
from eventlog.protocol.requests import CheckedRequest, access_request, cluster_id_request
from eventlog.security.access import ADMIN
from eventlog.state.outcomes import Outcome

if TYPE_CHECKING:
    from eventlog.node.node import Node

__all__ = [
    "settle",
]


def settle(node: Node) -> None:
    """Propose what the cluster still lacks, as its leader."""
    if not node.cluster_id:
        named = new_cluster_id()
        node.logger.info("naming_cluster", cluster_id=named)
        _propose(node, cluster_id_request(named))
    if not node.storage.access.settled:
        hashed = node.config.admin_password_hash
        node.logger.info("settling_first_admin", password=hashed is not None)
        _propose(node, access_request(["init", ADMIN, hashed]))


def warn_if_ignored(node: Node) -> None:
    """An ``--admin-password-file`` given to a node of a settled cluster changes nothing."""
    if node.config.admin_password_hash is not None and node.storage.access.settled:
        node.logger.warning(
            "admin_password_file_ignored",
            reason="the cluster's first admin is set up; use `eventraft user passwd admin`",
        )


def _propose(node: Node, request: CheckedRequest) -> None:
    future: asyncio.Future[Outcome] = node.append(request)
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
