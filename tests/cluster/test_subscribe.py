"""Subscriptions against real node processes: a connection each, flow control, a bad request
answered as an error, and moving on to another node when theirs dies."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventlog.client import AsyncClient, Client
from eventlog.errors import InvalidRequest
from eventlog.records import NewEvent
from tests.cluster.harness import LocalCluster, local_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path_factory.mktemp("subscribe")) as running:
        running.leader(timeout=20)
        yield running


def test_a_slow_subscriber_gets_every_event_in_order(cluster: LocalCluster) -> None:
    with Client(cluster.addresses) as client:
        start = client.append("slow", [NewEvent("T", b"%d" % n) for n in range(3000)])
        stream = client.subscribe(start.first_position)
        try:
            positions = []
            for event in stream:
                positions.append(event.position)
                if len(positions) % 500 == 0:
                    client.status()  # the shared connection still answers meanwhile
                if len(positions) == 3000:
                    break
        finally:
            stream.close()
        assert positions == list(range(start.first_position, start.last_position + 1))


def test_a_bad_subscription_is_refused_with_a_typed_error(cluster: LocalCluster) -> None:
    async def main() -> None:
        async with AsyncClient(cluster.addresses) as client:
            with pytest.raises(InvalidRequest):
                async with asyncio.timeout(20):
                    async for _ in client.subscribe("not a position"):  # type: ignore[arg-type]
                        pass

    asyncio.run(main())


def test_a_subscription_moves_on_when_its_node_dies(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as own:
        own.leader(timeout=20)
        first = next(iter(own.nodes.values()))

        async def main() -> list[bytes]:
            async with (
                AsyncClient(own.addresses, timeout=20) as reader,
                AsyncClient(own.addresses, timeout=20) as writer,
            ):
                await writer.append("moving", [NewEvent("T", b"0")])
                seen: list[bytes] = []
                async for event in reader.subscribe(1):
                    seen.append(event.data)
                    if event.data == b"0":
                        first.kill()  # the node this subscription reads from
                        for n in range(1, 21):
                            await writer.append("moving", [NewEvent("T", b"%d" % n)])
                    if event.data == b"20":
                        return seen
                raise AssertionError("the subscription ended")

        async def bounded() -> list[bytes]:
            async with asyncio.timeout(30):
                return await main()

        seen = asyncio.run(bounded())
        assert seen == [b"%d" % n for n in range(21)], "no gap, no duplicate"


SYNC_LOOP = """
    with Client(ADDRESSES) as client:
        client.append("interrupted", [NewEvent("E", b"{}")])
        for event in client.subscribe():
            print("event", event.position, flush=True)
"""
ASYNC_LOOP = """
    async def main():
        async with AsyncClient(ADDRESSES) as client:
            await client.append("interrupted", [NewEvent("E", b"{}")])
            async for event in client.subscribe():
                print("event", event.position, flush=True)

    asyncio.run(main())
"""


def interrupted(
    cluster: LocalCluster, loop: str, *, caught: bool
) -> subprocess.CompletedProcess[str]:
    """Run a script that follows the log, Ctrl-C it once it has printed an event."""
    body = textwrap.indent(textwrap.dedent(loop), "    ")
    if caught:
        body = f"try:\n{body}except KeyboardInterrupt:\n    print('stopped', flush=True)\n"
    else:
        body = textwrap.dedent(body)
    script = (
        "import asyncio\nfrom eventlog import AsyncClient, Client, NewEvent\n"
        f"ADDRESSES = {cluster.addresses!r}\n{body}"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()  # bounded by the test's timeout
            assert first.startswith("event"), process.stderr.read() if process.stderr else ""
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, first + out, err)


@pytest.mark.parametrize("loop", [SYNC_LOOP, ASYNC_LOOP], ids=["Client", "AsyncClient"])
def test_ctrl_c_in_a_subscribe_loop_leaves_nothing_behind(cluster: LocalCluster, loop: str) -> None:
    done = interrupted(cluster, loop, caught=True)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.splitlines()[-1] == "stopped"


def test_ctrl_c_uncaught_in_a_client_loop_is_only_the_interrupt(cluster: LocalCluster) -> None:
    done = interrupted(cluster, SYNC_LOOP, caught=False)
    assert done.returncode == -signal.SIGINT
    assert done.stderr.splitlines()[-1] == "KeyboardInterrupt"
    for noise in ("Task was destroyed", "Exception ignored", "RuntimeError", "During handling"):
        assert noise not in done.stderr, done.stderr
