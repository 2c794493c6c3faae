"""No node's wall clock decides an outcome: a leader two hours ahead or behind neither forgets
a request id nor bends a lease. The cluster's clock moves by leader time elapsed, while the
events keep the leader's wall clock as their timestamps (``eventlog.state.clock``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eventlog.errors import LeaseHeld
from eventlog.records import NewEvent
from eventlog.types import NodeId
from tests.node.harness import START_MS, Cluster, cluster, run

TWO_HOURS_MS = 7_200_000


async def lead_with_skewed_wall_clocks(c: Cluster, skew_ms: int) -> None:
    """Node 1 goes; nodes 2 and 3, whose wall clocks are ``skew_ms`` off, elect a leader."""
    c.wall_skew_ms.update({NodeId(2): skew_ms, NodeId(3): skew_ms})
    await c.stop(NodeId(1))
    leader = await c.elect()
    assert leader.config.node_id != 1


@pytest.mark.parametrize("skew_ms", [TWO_HOURS_MS, -TWO_HOURS_MS], ids=["ahead", "behind"])
def test_a_retried_append_is_not_appended_again_under_a_skewed_leader(
    tmp_path: Path, skew_ms: int
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            await c.elect()
            request_id = os.urandom(16)
            event = [NewEvent("Paid", b"once")]
            first = await c.client().append("order", event, request_id=request_id)
            await lead_with_skewed_wall_clocks(c, skew_ms)
            retried = await c.ticking(
                c.client(NodeId(2), NodeId(3)).append("order", event, request_id=request_id),
                "the retry",
            )
            assert retried == first
            await c.caught_up()
            for node in c.nodes.values():
                assert [e.data for e in node.storage.read_all()] == [b"once"]
            later = await c.client(NodeId(2), NodeId(3)).append("order", [NewEvent("X", b"")])
            await c.caught_up()
            [stamped] = c.nodes[NodeId(2)].storage.read_all(later.first_position)
            assert stamped.timestamp == START_MS + skew_ms, "events keep the leader's wall clock"

    run(main)


@pytest.mark.parametrize("skew_ms", [TWO_HOURS_MS, -TWO_HOURS_MS], ids=["ahead", "behind"])
def test_a_lease_runs_its_ttl_in_elapsed_time_under_a_skewed_leader(
    tmp_path: Path, skew_ms: int
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            await c.elect()
            held = await c.client().acquire_lease("projection", "worker-a", ttl=30.0)
            await lead_with_skewed_wall_clocks(c, skew_ms)
            client = c.client(NodeId(2), NodeId(3))
            c.clock.advance(29_000)
            with pytest.raises(LeaseHeld):
                await c.ticking(client.acquire_lease("projection", "worker-b", 30.0), "a try")
            c.clock.advance(1_000 + 1_000)  # the TTL, and time for the election left out
            taken = await c.ticking(client.acquire_lease("projection", "worker-b", 30.0), "take")
            assert taken.owner == "worker-b" and taken.token > held.token
            short = await client.acquire_lease("short", "worker-c", ttl=2.0)
            c.clock.advance(2_000)
            again = await client.acquire_lease("short", "worker-d", ttl=2.0)
            assert again.token > short.token, "a short lease is free again after its TTL"

    run(main)
