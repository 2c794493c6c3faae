"""The calls that look at and change the cluster's membership (``eventraft member ...``).

Both go to the leader: it alone knows how far each member is (``members``), and it alone
proposes changes. A change is answered once it commits, with the configuration it made."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from eventlog.errors import InvalidRequest, Unavailable
from eventlog.protocol import answers
from eventlog.protocol.addresses import split_address
from eventlog.raft.membership import Change, ChangeKind, Membership
from eventlog.records import Configuration
from eventlog.types import NodeId

if TYPE_CHECKING:
    from eventlog.node.server import ClientSession

__all__ = [
    "base_configuration",
    "change_member",
    "configuration_of",
    "list_members",
]

CHANGE_TIMEOUT = 10.0
"""Seconds a caller waits for its change to commit before it hears that it did not yet."""


async def list_members(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    node = session.node
    return answers.pack_members(node.members.statuses(node.core))


async def change_member(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    change = _change_of(args)
    future = session.node.change_membership(change)
    try:
        async with asyncio.timeout(CHANGE_TIMEOUT):
            made = await future
    except TimeoutError:
        raise Unavailable(
            f"the change was proposed but has not committed within {CHANGE_TIMEOUT:g}s; "
            "it may still commit (see `eventraft member list`)"
        ) from None
    return answers.pack_configuration(configuration_of(made))


async def base_configuration(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    """The configuration this node's log starts from, with its cluster id (a node joining
    by entries opens its store with them)."""
    node = session.node
    core = node.core
    return {
        "cluster_id": node.cluster_id,
        "index": int(core.memberships.base_index),
        "base": answers.pack_configuration(configuration_of(core.memberships.base)),
    }


def configuration_of(membership: Membership) -> Configuration:
    return Configuration(
        voters=tuple(sorted(membership.voters)),
        learners=tuple(sorted(membership.learners)),
        addresses={int(node): address for node, address in membership.addresses},
    )


def _change_of(args: dict[str, Any]) -> Change:
    kinds = {kind.value: kind for kind in ChangeKind}
    kind, node, address = args.get("kind"), args.get("id"), args.get("address", "")
    if kind not in kinds:
        raise InvalidRequest(f"kind must be one of {sorted(kinds)}, not {kind!r:.40}")
    if not isinstance(node, int) or isinstance(node, bool) or not 1 <= node < 2**63:
        raise InvalidRequest(f"a node id is an integer >= 1, not {node!r:.40}")
    if not isinstance(address, str):
        raise InvalidRequest("an address is a string HOST:PORT")
    if kinds[kind] is ChangeKind.ADD_LEARNER:
        split_address(address)  # InvalidRequest names a bad one
    elif address:
        raise InvalidRequest(f"only {ChangeKind.ADD_LEARNER.value} takes an address")
    return Change(kinds[kind], NodeId(node), address)
