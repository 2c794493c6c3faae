"""A node following its configuration: where each member listens, the transport's peers, and
the callers waiting for a membership change to commit.

The configuration in force is the latest in the node's log (``RaftCore.membership``); the
transport talks to its members and hears no one else, so a removed node that still runs is
cut off by every member as soon as the removal is in that member's log. A caller's change is
answered once its entry commits, with the configuration it made; if a new leader's log
replaced the entry, the caller hears ``NotLeader`` and asks the new leader.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping

import structlog

from eventlog.errors import EventLogError, NotLeader
from eventlog.node.config import NodeConfig
from eventlog.node.transport import Transport
from eventlog.protocol.addresses import split_address
from eventlog.raft.config import RaftConfig
from eventlog.raft.core import RaftCore
from eventlog.raft.membership import Change, Membership
from eventlog.raft.ready import Role
from eventlog.records import MemberStatus
from eventlog.store.storage import LmdbStorage
from eventlog.types import LogIndex, NodeId, Term

__all__ = [
    "Members",
    "addresses_of",
    "bootstrap_membership",
    "open_core",
]


def bootstrap_membership(config: NodeConfig) -> Membership:
    """The configuration a cluster started with ``--cluster`` begins in: every node a voter,
    at the address given. A store keeps the one it began with (``LmdbStorage.base_membership``)
    whatever later starts say."""
    where = {node: f"{host}:{port}" for node, (host, port) in config.addresses.items()}
    return Membership.of(config.addresses, (), where)


def open_core(
    config: NodeConfig,
    storage: LmdbStorage,
    rng: random.Random,
    logger: structlog.typing.FilteringBoundLogger,
) -> RaftCore:
    """The node's core, from the configuration its store began with and its log."""
    stored = storage.base_membership()
    base_index, base = stored if stored is not None else (0, bootstrap_membership(config))
    raft_config = RaftConfig(
        node_id=config.node_id,
        voters=tuple(sorted(base.voters)),
        base=base,
        base_index=LogIndex(base_index),
        election_tick=config.election_tick,
        heartbeat_tick=config.heartbeat_tick,
    )
    applied = storage.applied_index()
    return RaftCore.open(raft_config, storage, rng, logger, applied=applied)


def addresses_of(
    membership: Membership, given: Mapping[NodeId, tuple[str, int]]
) -> dict[NodeId, tuple[str, int]]:
    """Where each member listens: as the node was told at its start (its own address, and
    with ``--cluster`` everyone's: a cluster restarted on other ports is where it is told),
    else as the configuration says (ids are never reused, so what a node is told of an id
    is the operator's word on that node)."""
    addresses = {}
    for node in sorted(membership.members):
        written = membership.address(node)
        if node in given:
            addresses[node] = given[node]
        elif written:
            addresses[node] = split_address(written)
    return addresses


class Members:
    def __init__(
        self,
        node_id: NodeId,
        known: Mapping[NodeId, tuple[str, int]],
        transport: Transport,
        logger: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self.node_id, self._known, self._transport, self._logger = (
            node_id,
            dict(known),
            transport,
            logger,
        )
        self.membership: Membership | None = None
        self.addresses: dict[NodeId, tuple[str, int]] = dict(known)
        self._waiting: dict[LogIndex, tuple[Term, asyncio.Future[Membership]]] = {}

    def follow(self, core: RaftCore) -> bool:
        """After each Ready: take up a new configuration, answer changes that committed.
        True if the configuration changed."""
        changed = core.membership is not self.membership
        if changed:
            was_member = self.membership is None or self.node_id in self.membership.members
            self.membership = core.membership
            self.addresses = addresses_of(core.membership, self._known)
            self._transport.set_peers(self.addresses)
            if was_member and self.node_id not in core.membership.members:
                self._logger.warning("removed_from_cluster", membership=str(core.membership))
        if self._waiting:
            self._settle(core)
        return changed

    def propose(self, core: RaftCore, change: Change) -> asyncio.Future[Membership]:
        """Propose ``change`` as leader (``MembershipError`` at once if it cannot be made now);
        the future resolves once it commits. A change the configuration already holds (a
        caller asking again after its leader fell) resolves once that configuration commits,
        without a second entry."""
        future: asyncio.Future[Membership] = asyncio.get_running_loop().create_future()
        memberships = core.memberships
        if change.made_in(memberships.current, memberships.ever()):
            if core.role is not Role.LEADER:
                raise NotLeader(self.node_id, core.leader or None)
            index = memberships.last_change_index
            if index <= core.log.committed:
                future.set_result(memberships.current)
            else:
                self._waiting[index] = (core.log.term(index) or Term(0), future)
            return future
        proposal = core.propose_change(change)
        self._waiting[proposal.last_index] = (proposal.term, future)
        return future

    def fail_all(self, error: EventLogError) -> None:
        """This node stops leading (or serving): its changes may still commit under the next
        leader, which the caller asks."""
        for _, future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()

    def _settle(self, core: RaftCore) -> None:
        committed = core.log.committed
        for index in sorted(self._waiting):
            if index > committed:
                return
            term, future = self._waiting.pop(index)
            if future.done():
                continue
            if core.log.term(index) != term:
                future.set_exception(NotLeader(self.node_id, core.leader or None))
                continue
            made = dict(core.memberships.changes).get(index, core.membership)
            future.set_result(made)

    def statuses(self, core: RaftCore) -> list[MemberStatus]:
        """Every member with how far it is behind, as this node (the leader) tracks them."""
        if core.role is not Role.LEADER:
            raise NotLeader(self.node_id, core.leader or None)
        membership, last = core.membership, core.log.last_index()
        result = []
        for node in sorted(membership.members):
            progress = core.progress.get(node)
            match = last if node == self.node_id else (progress.match if progress else 0)
            host, port = self.addresses.get(node, ("", 0))
            result.append(
                MemberStatus(
                    id=int(node),
                    address=f"{host}:{port}" if host else "",
                    role="voter" if node in membership.voters else "learner",
                    match_index=int(match),
                    lag=int(last - match),
                )
            )
        return result
