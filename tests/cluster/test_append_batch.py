"""Concurrent appends on one client connection travel in ``append_batch`` frames (at most
``APPENDS_PER_SLICE`` each) per turn of the client's loop; each keeps its own request id,
expected version and answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from eventlog.client import AsyncClient
from eventlog.errors import WrongExpectedVersion
from eventlog.protocol.requests import APPENDS_PER_SLICE
from eventlog.records import NO_STREAM, NewEvent
from tests.cluster.harness import LocalCluster, local_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path_factory.mktemp("batch"), size=3) as running:
        running.leader(timeout=20)
        yield running


def spy_on_ops(client: AsyncClient, seen: list[tuple[str, int]]) -> None:
    """Record (op, number of requests) of every frame the client's connection sends."""
    connection = client._connection
    assert connection is not None
    send = connection.frames.send

    def recording(body: Any) -> None:
        _, op, args = body
        seen.append((op, len(args["requests"]) if op == "append_batch" else 1))
        send(body)

    connection.frames.send = recording  # type: ignore[method-assign]


def test_concurrent_appends_share_frames_and_get_their_own_results(cluster: LocalCluster) -> None:
    async def main() -> None:
        async with AsyncClient(cluster.addresses) as client:
            await client.append("warm-up", [NewEvent("T", b"0")])  # finds the leader
            seen: list[tuple[str, int]] = []
            spy_on_ops(client, seen)
            results = await asyncio.gather(
                *(client.append(f"batch-{n}", [NewEvent("T", str(n).encode())]) for n in range(300))
            )
            assert sum(count for _, count in seen) == 300
            assert seen == [
                ("append_batch", APPENDS_PER_SLICE),
                ("append_batch", 300 - APPENDS_PER_SLICE),
            ]
            positions = sorted(result.first_position for result in results)
            assert positions == list(range(positions[0], positions[0] + 300))
            assert all(result.stream_version == 1 for result in results)
            events = await client.read_all(from_position=positions[0], limit=300)
            by_stream = {event.stream: event.data for event in events}
            assert by_stream == {f"batch-{n}": str(n).encode() for n in range(300)}

    asyncio.run(main())


def test_a_conflict_in_a_batch_fails_alone(cluster: LocalCluster) -> None:
    async def main() -> None:
        async with AsyncClient(cluster.addresses) as client:
            await client.append("taken", [NewEvent("T", b"first")], NO_STREAM)
            outcomes = await asyncio.gather(
                client.append("free-1", [NewEvent("T", b"a")], NO_STREAM),
                client.append("taken", [NewEvent("T", b"again")], NO_STREAM),
                client.append("free-2", [NewEvent("T", b"b")], NO_STREAM),
                return_exceptions=True,
            )
            first, conflict, last = outcomes
            assert isinstance(conflict, WrongExpectedVersion)
            assert (conflict.stream, conflict.expected, conflict.actual) == ("taken", 0, 1)
            assert not isinstance(first, BaseException) and first.stream_version == 1
            assert not isinstance(last, BaseException) and last.stream_version == 1
            assert [e.data for e in await client.read_stream("taken")] == [b"first"]

    asyncio.run(main())


def test_a_malformed_batch_is_refused_and_the_connection_keeps_working(
    cluster: LocalCluster,
) -> None:
    async def main() -> None:
        async with AsyncClient(cluster.addresses) as client:
            await client.append("before", [NewEvent("T", b"x")])
            connection = client._connection
            assert connection is not None
            for bad in ([], "not a list", [["garbage"]]):
                kind, payload = await connection.call("append_batch", {"requests": bad})
                if bad and isinstance(bad, list):
                    # A list of requests is answered per request: this one is invalid.
                    assert kind == "ok" and payload[0][0] == "error"
                    assert payload[0][1]["code"] == "invalid"
                else:
                    assert (kind, payload["code"]) == ("error", "invalid")
            result = await client.append("after", [NewEvent("T", b"y")])
            assert result.stream_version == 1

    asyncio.run(main())
