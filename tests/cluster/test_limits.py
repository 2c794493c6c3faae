"""The largest append, stated and enforced: refused at once and typed by the client and by
the node, and appends at the limit under load leave the leader in place."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventlog import AsyncClient, EventTooLarge, InvalidRequest, NewEvent, open_embedded
from eventlog.protocol.requests import DEFAULT_MAX_APPEND_BYTES
from tests.cluster.harness import LocalCluster, local_cluster

AT_LIMIT = DEFAULT_MAX_APPEND_BYTES - 32  # one event: its data, plus 32 bytes of overhead


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path_factory.mktemp("limits")) as running:
        running.leader(timeout=20)
        yield running


def test_the_client_refuses_a_too_large_append_before_sending_it(cluster: LocalCluster) -> None:
    with cluster.client() as client:
        with pytest.raises(EventTooLarge) as refused:
            client.append("big", [NewEvent("Blob", bytes(AT_LIMIT + 1))])
        assert (refused.value.size, refused.value.limit) == (
            DEFAULT_MAX_APPEND_BYTES + 1,
            DEFAULT_MAX_APPEND_BYTES,
        )
        assert isinstance(refused.value, InvalidRequest)
        assert "exceeds the limit of 1,048,576 bytes" in str(refused.value)
        assert client.read_stream("big") == []


def test_the_node_refuses_a_too_large_append_that_a_client_sends_anyway(
    cluster: LocalCluster,
) -> None:
    async def main() -> None:
        async with AsyncClient(cluster.addresses, timeout=30) as client:
            await client.status()
            client.max_append_bytes = 1 << 30  # a client that does not check
            with pytest.raises(EventTooLarge) as refused:
                await client.append("big-anyway", [NewEvent("Blob", bytes(AT_LIMIT + 1))])
            assert refused.value.limit == DEFAULT_MAX_APPEND_BYTES
            assert await client.read_stream("big-anyway") == []

    asyncio.run(main())


def test_the_embedded_store_refuses_it_too(tmp_path: Path) -> None:
    with open_embedded(tmp_path / "store") as store:
        with pytest.raises(EventTooLarge):
            store.append("big", [NewEvent("Blob", bytes(AT_LIMIT + 1))])
        assert store.append("big", [NewEvent("Blob", bytes(AT_LIMIT))]).stream_version == 1


def test_appends_at_the_limit_under_load_leave_the_leader_in_place(cluster: LocalCluster) -> None:
    leader = cluster.leader()
    term = cluster.status(leader).term
    failures: list[Exception] = []

    def append_at_the_limit(writer: int) -> None:
        try:
            with cluster.client(timeout=60) as client:
                for _ in range(6):
                    client.append(f"large-{writer}", [NewEvent("Blob", bytes(AT_LIMIT))])
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=append_at_the_limit, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    statuses = cluster.wait_converged()
    assert {(s.term, s.leader) for s in statuses.values()} == {(term, leader)}, "no election"
