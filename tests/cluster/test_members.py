"""Any one address will do: a client learns where the members listen from the node it
reaches, and keeps working when that node dies while a majority lives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eventlog import AsyncClient, Client, NewEvent
from tests.cluster.harness import local_cluster


def test_a_client_given_one_address_keeps_appending_when_that_node_dies(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path) as cluster:
        leader = cluster.leader(timeout=20)
        with Client(cluster.nodes[leader].address, timeout=20) as client:
            client.append("s", [NewEvent("E", b"1")])
            assert sorted(client._async.addresses) == sorted(
                node.address for node in cluster.nodes.values()
            ), "the node named every member"
            cluster.nodes[leader].kill()
            result = client.append("s", [NewEvent("E", b"2")])
            assert result.stream_version == 2
            assert [e.data for e in client.read_stream("s")] == [b"1", b"2"]


def test_an_async_client_learns_the_members_from_a_follower_too(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        leader = cluster.leader(timeout=20)
        follower = next(n for n in cluster.nodes if n != leader)

        async def main() -> list[str]:
            async with AsyncClient(cluster.nodes[follower].address, timeout=20) as client:
                await client.status()
                return client.addresses

        learned = asyncio.run(main())
        assert cluster.nodes[follower].address in learned
        assert sorted(learned) == sorted(node.address for node in cluster.nodes.values())
