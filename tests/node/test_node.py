"""Nodes in one loop through the client, end to end: what a leader appends reaches every node
alike, and the cluster's time is the clock the leader stamps its batches with."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlog.errors import LeaseHeld
from eventlog.records import NewEvent
from eventlog.types import NodeId
from tests.node.harness import START_MS, cluster, run


def test_appends_reach_every_node_stamped_by_the_leaders_clock(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            await c.elect()
            client = c.client()
            await client.append("notes", [NewEvent("Noted", b"a")])
            c.clock.advance(1500)
            await client.append("notes", [NewEvent("Noted", b"b")], expected_version=1)
            await c.caught_up()
            events = {node_id: n.storage.read_all() for node_id, n in c.nodes.items()}
            first = events[NodeId(1)]
            assert [e.timestamp for e in first] == [START_MS, START_MS + 1500]
            assert all(found == first for found in events.values())  # ids, positions alike

    run(main)


def test_leases_expire_on_the_clock_of_the_batches(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            await c.elect()
            client = c.client()
            held = await client.acquire_lease("projection", "worker-a", ttl=1.0)
            with pytest.raises(LeaseHeld):
                await client.acquire_lease("projection", "worker-b", ttl=1.0)
            c.clock.advance(999)
            with pytest.raises(LeaseHeld):
                await client.acquire_lease("projection", "worker-b", ttl=1.0)
            c.clock.advance(1)
            taken = await client.acquire_lease("projection", "worker-b", ttl=1.0)
            assert taken.owner == "worker-b" and taken.token > held.token
            assert taken.expires_ms == held.expires_ms + 1000

    run(main)
