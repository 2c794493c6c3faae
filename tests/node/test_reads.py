"""The read paths: linearizable reads through ReadIndex (on the leader, or forwarded to it by a
follower), follower reads bounded by ``min_position``, and reads whose leader steps down while
they wait, which must fail at once (NotLeader), not after the node's read timeout of a minute
(``TICK_MS``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from eventlog.client.async_client import AsyncClient
from eventlog.errors import InvalidRequest, NotLeader, Unavailable
from eventlog.node.node import Node
from eventlog.raft.messages import ReadIndexRequest
from eventlog.raft.ready import Role
from eventlog.raft.storage import StorageError
from eventlog.records import NewEvent
from eventlog.store.storage import LmdbStorage
from tests.node.harness import Cluster, cluster, run


def event(name: str) -> NewEvent:
    return NewEvent("Noted", name.encode())


async def append(c: Cluster, leader: Node, name: str) -> int:
    result = await c.client(leader.config.node_id).append("notes", [event(name)])
    return result.last_position


def hear_only_read_requests(c: Cluster, leader: Node) -> None:
    """The leader gets followers' ReadIndex requests and nothing else: it cannot confirm a read,
    keep its leadership, or win an election again."""
    deaf = leader.config.node_id
    c.network.drop = lambda m: m.dst == deaf and not isinstance(m, ReadIndexRequest)


def test_a_node_refuses_a_read_that_cannot_mean_anything_from_any_client(
    tmp_path: Path,
) -> None:
    """The node checks what it receives by the same rules as the Python client, for clients
    that do not check first."""

    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            client = c.client(leader.config.node_id)
            for op, args in [
                ("read_all", {"from_position": 0}),
                ("read_all", {"limit": -3}),
                ("read_stream", {"stream": "x", "from_version": 0}),
                ("read_stream", {}),
                ("read_stream_backwards", {"stream": 7}),
                ("read_all", {"min_position": "soon"}),
            ]:
                with pytest.raises(InvalidRequest):
                    await client._call(op, args)
            await append(c, leader, "still serving")
            await client.close()

    run(main)


def test_a_linearizable_read_on_the_leader_sees_every_acknowledged_append(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            await append(c, leader, "seen")
            sent = sum(c.network.sent.values())
            events = await c.client(leader.config.node_id).read_all()
            assert [e.data for e in events] == [b"seen"]
            assert sum(c.network.sent.values()) > sent  # the leader asked a quorum (ReadIndex)

    run(main)


def test_a_leader_cut_off_from_its_quorum_serves_no_read(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            c.network.isolate(leader.config.node_id)
            read = asyncio.ensure_future(leader.read_barrier())
            await c.until(read.done, "the cut-off leader giving the read up")
            with pytest.raises(NotLeader):
                read.result()
            assert leader.core.role is not Role.LEADER

    run(main)


def test_a_linearizable_read_through_a_lagging_follower_waits_for_the_leaders_commit(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            follower = c.followers()[0]
            c.network.isolate(follower.config.node_id)
            position = await append(c, leader, "committed elsewhere")
            c.network.heal()
            assert follower.storage.last_position() < position
            events = await c.client(follower.config.node_id).read_all()
            assert [e.data for e in events] == [b"committed elsewhere"]

    run(main)


def test_a_follower_read_with_min_position_is_served_locally(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            follower = c.followers()[0]
            reader = c.client(follower.config.node_id, timeout=5.0)
            first = await append(c, leader, "first")
            events = await c.ticking(reader.read_all(min_position=first), "a follower read")
            assert [e.data for e in events] == [b"first"]

            # Cut off, the follower still serves what it has, and knows no more.
            c.network.isolate(follower.config.node_id)
            await append(c, leader, "second")
            events = await reader.read_all(min_position=first)
            assert [e.data for e in events] == [b"first"]

    run(main)


def test_a_read_forwarded_to_a_leader_that_steps_down_fails_with_not_leader(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            follower = c.followers()[0]
            hear_only_read_requests(c, leader)
            read = asyncio.ensure_future(follower.read_barrier())
            await c.observe(lambda: len(leader.core.read_only) == 1, "the read at the leader")
            await c.until(read.done, "the leader stepping down and the follower noticing")
            with pytest.raises(NotLeader):
                read.result()
            assert leader.core.role is not Role.LEADER

    run(main)


def test_a_client_read_through_a_follower_outlives_the_leader_stepping_down(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            follower = c.followers()[0]
            await append(c, leader, "kept")
            hear_only_read_requests(c, leader)
            # Shorter than the node's read timeout: only a read that fails fast can be retried
            # at the next leader in time.
            reader = c.client(follower.config.node_id, timeout=10.0)
            call = asyncio.ensure_future(reader.read_all())
            await c.observe(lambda: len(leader.core.read_only) == 1, "the read at the leader")
            events = await c.ticking(call, "the read, retried at the next leader")
            assert [e.data for e in events] == [b"kept"]
            leading = [n.config.node_id for n in c.nodes.values() if n.core.role is Role.LEADER]
            assert leading and leader.config.node_id not in leading

    run(main)


def _fail_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*_: object) -> None:
        raise StorageError("LMDB read failed: mdb_cursor_get: Input/output error")

    monkeypatch.setattr(LmdbStorage, "read_all", failing)


def test_a_storage_error_on_a_read_is_answered_and_the_caller_told_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node answers the failed read (``unavailable``, naming the error) instead of
    dropping it; the client tries again within its deadline and then says what failed."""

    async def main() -> None:
        async with cluster(tmp_path, size=1) as c:
            await c.elect()

            _fail_reads(monkeypatch)
            client = c.client(timeout=5.0)  # room for an attempt on a loaded machine
            with pytest.raises(Unavailable, match="Input/output error"):
                await c.ticking(client.read_all(), "a read answered")

    run(main)


def test_a_deadline_that_cuts_a_dial_keeps_the_reason_the_call_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a refused attempt, a dial the deadline cuts short says nothing new: the caller
    is told what failed (the storage error), not that the last dial timed out."""

    async def main() -> None:
        async with cluster(tmp_path, size=1) as c:
            await c.elect()

            _fail_reads(monkeypatch)
            dial = AsyncClient._connect
            dials = 0

            async def first_dial_only(self: AsyncClient, timeout: float) -> object:
                nonlocal dials
                dials += 1
                if dials == 1:
                    return await dial(self, timeout)
                await asyncio.sleep(timeout)  # a dial that hangs until the deadline cuts it
                raise TimeoutError

            monkeypatch.setattr(AsyncClient, "_connect", first_dial_only)
            client = c.client(timeout=3.0)
            with pytest.raises(Unavailable, match="Input/output error"):
                await c.ticking(client.read_all(), "a read answered")
            assert dials > 1

    run(main)
