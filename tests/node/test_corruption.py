"""A node whose store is not what it wrote raises a corruption alarm: it answers its callers
at once that it has one (they go elsewhere), never serves or replicates the bad bytes, takes
no further part in Raft, says so in ``status``, and refuses to start again. A lagging
node catches up from a healthy member, with the bytes as they were appended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from eventlog.client.connection import dial
from eventlog.errors import DataDirError
from eventlog.records import NewEvent
from eventlog.store.alarms import ALARM_FILE
from eventlog.types import NodeId
from tests.node.harness import CLUSTER_ID, Cluster, cluster, run

MARKER = b"precious-" * 600
"""An event large enough for LMDB's overflow pages, which are written once and then left
alone, so a byte flipped in the file stays flipped."""


def rot(data_dir: Path) -> None:
    """Flip one bit of the marker event in ``data.mdb``, as bit rot would: in the file, under
    the live node's map."""
    path = data_dir / "data.mdb"
    raw = path.read_bytes()
    at = raw.index(MARKER) + 100
    with path.open("r+b") as file:
        file.seek(at)
        file.write(bytes([raw[at] ^ 0x04]))
    assert MARKER not in path.read_bytes()


async def ask(c: Cluster, node_id: NodeId, op: str, args: dict[str, Any]) -> tuple[str, Any]:
    """One call to one node, as it answers it (a client would retry elsewhere)."""
    connection = await dial(c.address(node_id), CLUSTER_ID, 5.0)
    try:
        return await connection.call(op, args)
    finally:
        await connection.close()


def refused_for_corruption(answer: tuple[str, Any]) -> bool:
    kind, payload = answer
    return (
        kind == "error"
        and payload["code"] == "unavailable"
        and ("corruption alarm" in payload["reason"])
    )


def data_dir(c: Cluster, node_id: NodeId) -> Path:
    return Path(c.nodes[node_id].config.data_dir)


def test_a_follower_with_a_rotten_event_answers_with_its_alarm_and_keeps_it(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            writer = c.client(leader.config.node_id)
            done = await c.ticking(writer.append("precious", [NewEvent("Kept", MARKER)]), "append")
            await c.caught_up()
            follower = c.followers()[0]
            node_id = follower.config.node_id
            rot(data_dir(c, node_id))

            with capture_logs() as logs:
                read = {"min_position": done.last_position}
                assert refused_for_corruption(await ask(c, node_id, "read_all", read))
            [alarm] = [line for line in logs if line["event"] == "corruption_alarm"]
            assert "raft_log" in alarm["detail"] and "checksum" in alarm["detail"]
            [raised] = follower.status().alarms
            assert raised.kind == "corrupt" and "raft_log" in raised.detail
            assert (data_dir(c, node_id) / ALARM_FILE).exists()
            term = follower.core.term
            for _ in range(3 * follower.config.election_tick):
                follower.tick()
            assert follower.core.term == term  # no election of its own, no part in any

            anyone = c.client()  # the others serve the same read, with the bytes as appended
            [event] = await c.ticking(anyone.read_stream("precious"), "a healthy read")
            assert event.data == MARKER

            await c.stop(node_id)
            with pytest.raises(DataDirError, match=r"has a corruption alarm .*raft_log.*replace"):
                c.build(node_id)

    run(main)


def test_a_leader_never_sends_a_rotten_entry_and_the_lagging_node_gets_it_whole(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            leader_id = leader.config.node_id
            lagging = c.followers()[0].config.node_id
            await c.stop(lagging)
            writer = c.client(leader_id)
            await c.ticking(writer.append("precious", [NewEvent("Kept", MARKER)]), "append")
            rot(data_dir(c, leader_id))

            await c.start(c.build(lagging))  # the leader must now send it the rotten entry
            await c.until(lambda: not leader.health.serving, "the leader raising its alarm")
            assert [a.kind for a in leader.status().alarms] == ["corrupt"]
            c.nodes.pop(leader_id)  # out of the ticking: it takes no part any more
            server = c.servers.pop(leader_id)
            await c.caught_up()
            late = c.client(lagging)
            [event] = await c.ticking(late.read_stream("precious", min_position=1), "late read")
            assert event.data == MARKER
            await server.close()
            await leader.stop()

    run(main)
