"""The calls of a client that change or list the cluster's members (``eventraft member ...``):
each change is answered once committed; one refused raises ``MembershipError`` naming why."""

from __future__ import annotations

import asyncio
from typing import Any

from eventlog.errors import MembershipError
from eventlog.protocol import answers
from eventlog.records import Configuration, MemberStatus

__all__ = [
    "MemberCalls",
]


class MemberCalls:
    """Mixed into ``AsyncClient``, whose ``_call`` carries them."""

    timeout: float

    async def _call(self, op: str, args: dict[str, Any], *, follow_leader: bool = True) -> Any:
        raise NotImplementedError

    async def members(self) -> list[MemberStatus]:
        """Every member of the cluster, as its leader sees it: role, match index, lag."""
        return answers.unpack_members(await self._call("members", {}))

    async def add_member(self, node_id: int, address: str) -> Configuration:
        """Add node ``node_id``, listening at ``address``, as a learner; start it with
        ``eventraft node --join`` and promote it once it caught up."""
        return await self._change("add_learner", node_id, address)

    async def promote_member(self, node_id: int) -> Configuration:
        """Make learner ``node_id`` a voter (``MembershipError`` while it is far behind)."""
        return await self._change("promote", node_id)

    async def remove_member(self, node_id: int) -> Configuration:
        """Take node ``node_id`` out of the cluster (the leader too: it steps down once its
        removal commits)."""
        return await self._change("remove", node_id)

    async def base_configuration(self) -> tuple[str, int, Configuration]:
        """The cluster's id, and the configuration its log starts from with the index it
        holds from: what a node joining without a copy needs before its first entry."""
        body = await self._call("base_configuration", {})
        return body["cluster_id"], body["index"], answers.unpack_configuration(body["base"])

    async def _change(self, kind: str, node_id: int, address: str = "") -> Configuration:
        """One change, answered once committed. A leader that has not committed an entry of
        its term yet (just elected) is asked again shortly."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        args = {"kind": kind, "id": node_id, "address": address}
        while True:
            try:
                return answers.unpack_configuration(await self._call("change_member", args))
            except MembershipError as refused:
                if refused.reason != "not_committed_in_term" or loop.time() >= deadline:
                    raise
            await asyncio.sleep(0.05)
