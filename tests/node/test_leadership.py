"""Leadership changes under a node's callers: a killed or cut-off leader is replaced, what it
had pending fails with NotLeader, and a retry with the same request id appends exactly once,
even when the first attempt's entry commits under the next leader."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from eventlog.errors import NotLeader
from eventlog.node.node import Node
from eventlog.protocol.requests import new_request
from eventlog.raft.ready import Role
from eventlog.records import ANY, NewEvent
from tests.node.harness import Cluster, cluster, run


def event(name: str) -> NewEvent:
    return NewEvent("Noted", name.encode())


def deafen(c: Cluster, leader: Node) -> None:
    """The leader's messages still go out; nothing comes back to it."""
    for node in c.nodes:
        if node != leader.config.node_id:
            c.network.cut(node, leader.config.node_id, both_ways=False)


async def exactly_one(c: Cluster, stream: str) -> None:
    await c.caught_up()
    for node in c.nodes.values():
        assert len(node.storage.read_stream(stream)) == 1, f"node {node.config.node_id}"


def test_a_killed_leader_is_replaced_and_the_client_follows(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            old = await c.elect()
            old_id, old_term = old.config.node_id, old.core.term
            client = c.client()
            await client.append("notes", [event("before")])

            await c.stop(old_id)
            new = await c.elect()
            assert new.config.node_id != old_id and new.core.term > old_term
            after = await c.ticking(
                client.append("notes", [event("after")], expected_version=1), "append after"
            )
            assert after.stream_version == 2
            events = await c.ticking(client.read_stream("notes"), "read after")
            assert [e.data for e in events] == [b"before", b"after"]

    run(main)


def test_pending_appends_fail_with_not_leader_and_a_retry_appends_once(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            deafen(c, leader)
            request = new_request([("notes", [event("once")], ANY)])
            pending = leader.append(request)
            await c.observe(
                lambda: all(
                    n.core.log.last_index() > n.core.log.committed for n in c.nodes.values()
                ),
                "the entry in every log, committed nowhere",
            )
            await c.until(pending.done, "the deaf leader stepping down")
            with pytest.raises(NotLeader):
                pending.result()
            assert leader.core.role is not Role.LEADER

            c.network.heal()
            client = c.client()
            retry = client.append("notes", [event("once")], request_id=request.request_id)
            result = await c.ticking(retry, "the retry")
            again = client.append("notes", [event("once")], request_id=request.request_id)
            assert await c.ticking(again, "a second retry") == result
            await exactly_one(c, "notes")

    run(main)


def test_a_client_append_to_a_cut_off_leader_is_retried_elsewhere_once(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            others = [node for node in c.addresses if node != leader.config.node_id]
            client = c.client(leader.config.node_id, *others)
            deafen(c, leader)
            before = leader.core.log.last_index()
            call = asyncio.ensure_future(client.append("notes", [event("once")]))
            await c.observe(lambda: leader.core.log.last_index() > before, "the leader's entry")
            # Deaf, the old leader can neither commit nor win again: the others must.
            result = await c.ticking(call, "the client's append, through retries")
            assert result.stream_version == 1
            assert leader.core.role is not Role.LEADER
            c.network.heal()
            await exactly_one(c, "notes")

    run(main)
