"""One connection per node address per client: concurrent calls that find none dial one; a
call that fails for its own reason (the node answered it with an error) fails alone, and the
calls in flight beside it on the same connection still get their answers there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from eventlog.client.async_client import AsyncClient
from eventlog.client.connection import Connection
from eventlog.records import NewEvent
from tests.node.harness import cluster, run


def count_dials(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    dials: list[str] = []
    dial = AsyncClient._dial

    async def counted(client: AsyncClient, address: str, timeout: float) -> Connection:
        dials.append(address)
        return await dial(client, address, timeout)

    monkeypatch.setattr(AsyncClient, "_dial", counted)
    return dials


def test_concurrent_calls_that_find_no_connection_dial_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            dials = count_dials(monkeypatch)
            client = c.client(leader.config.node_id)
            statuses = await c.ticking(
                asyncio.gather(*(client.status() for _ in range(200))), "200 calls"
            )
            assert len(statuses) == 200 and len(dials) == 1, dials

    run(main)


def test_a_call_answered_with_an_error_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            for node_id in c.addresses:  # reads waiting for a position give up in 0.6 s
                c.settings[node_id] = {"tick_ms": 10.0}
            for node_id in list(c.nodes):
                await c.stop(node_id)
                await c.start(c.build(node_id))
            leader = await c.elect()
            await c.ticking(c.client().append("s", [NewEvent("E", b"0")]), "an append")
            failed_for_others: list[int] = []
            close = Connection.close

            async def spied(connection: Connection) -> None:
                failed_for_others.append(sum(not f.done() for f in connection.calls.values()))
                await close(connection)

            monkeypatch.setattr(Connection, "close", spied)
            dials = count_dials(monkeypatch)
            client = AsyncClient(
                [c.address(leader.config.node_id)], timeout=10.0, cluster_id="node-tests"
            )
            try:
                await client.status()  # connected
                c.network.isolate(leader.config.node_id)  # no tick runs: it stays leader
                beside = asyncio.ensure_future(client.append("s", [NewEvent("E", b"1")]))
                failing = asyncio.ensure_future(client.read_all(min_position=10**9))
                async with asyncio.timeout(5):
                    while len(dials) < 2:  # until the failing call, answered, moved on
                        await asyncio.sleep(0.01)
                assert not beside.done(), "the append waits for its commit"
                c.network.heal()
                result = await c.ticking(beside, "the append beside")
                assert result.last_position == 2
                assert failed_for_others == [] or max(failed_for_others) == 0, failed_for_others
                failing.cancel()
            finally:
                await client.close()

    run(main)
