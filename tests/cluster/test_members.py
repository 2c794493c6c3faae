"""Any one address will do: a client learns where the members listen from the node it
reaches, and keeps working when that node dies while a majority lives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eventlog import AsyncClient, Client, NewEvent
from eventlog.client.connection import Connection
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


class CountingLock(asyncio.Lock):
    def __init__(self) -> None:
        super().__init__()
        self.taken = 0

    async def acquire(self) -> bool:
        self.taken += 1
        return await super().acquire()


def test_thousands_of_calls_redirected_at_once_share_one_dial(tmp_path: Path) -> None:
    """Every call sent to a follower comes back ``NotLeader`` at once; they all move to the
    leader on one dial, not each in turn through a lock (one loop turn each: with thousands in
    flight, the last would wait past its deadline)."""
    calls = 2_000
    with local_cluster(tmp_path) as cluster:
        leader = cluster.leader(timeout=20)
        follower = next(n for n in cluster.nodes if n != leader)

        async def main() -> tuple[int, int]:
            async with AsyncClient(cluster.nodes[follower].address, timeout=20) as client:
                lock = client._connecting = CountingLock()
                dialed: list[str] = []
                dial = client._dial

                async def counting_dial(address: str, timeout: float) -> Connection:
                    dialed.append(address)
                    return await dial(address, timeout)

                client._dial = counting_dial  # type: ignore[method-assign]
                results = await asyncio.gather(
                    *(client.append(f"moved-{n}", [NewEvent("E", b"x")]) for n in range(calls))
                )
                assert all(result.stream_version == 1 for result in results)
                assert dialed == [
                    cluster.nodes[follower].address,
                    cluster.nodes[leader].address,
                ]
                return lock.taken, len(results)

        taken, answered = asyncio.run(main())
        assert answered == calls
        assert taken <= 3, f"the connection lock was taken {taken} times for one redirect"
