"""What a subscriber that does not read can make a node hold is bounded: a connection holds
at most ``MAX_SUBSCRIPTIONS_PER_CONNECTION`` subscriptions, each sends at most
``SUBSCRIPTION_BATCH_BYTES`` of events at a time before it waits for the socket to drain, and
one that leaves its socket full for ``subscriber_stall`` seconds is dropped."""

from __future__ import annotations

import socket
from pathlib import Path

from structlog.testing import capture_logs

from eventlog.client.connection import dial
from eventlog.node.read_calls import MAX_SUBSCRIPTIONS_PER_CONNECTION
from eventlog.protocol.frames import encode_frame
from eventlog.protocol.hello import hello
from eventlog.records import NewEvent
from eventlog.store.reads import SUBSCRIPTION_BATCH_BYTES, Tail
from tests.node.harness import CLUSTER_ID, cluster, run
from tests.store import entry, one, open_store, persist_and_apply


def test_a_connection_holds_a_bounded_number_of_subscriptions(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            await c.ticking(c.client().append("s", [NewEvent("E", b"x")]), "an append")
            connection = await dial(c.address(leader.config.node_id), CLUSTER_ID, 5.0)
            try:
                answers = [
                    await connection.call("subscribe", {})
                    for _ in range(MAX_SUBSCRIPTIONS_PER_CONNECTION + 1)
                ]
            finally:
                await connection.close()
            assert [kind for kind, _ in answers[:-1]] == ["events"] * 16
            kind, payload = answers[-1]
            assert (kind, payload["code"]) == ("error", "invalid")
            assert "16 subscriptions at most" in payload["message"]

    run(main)


def test_a_subscription_sends_a_bounded_number_of_bytes_at_a_time(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        for index in range(1, 11):
            request = one(index, "big", "E")
            request = type(request)(
                request.request_id,
                tuple(
                    type(a)(a.stream, a.expected_version, (NewEvent("E", b"x" * 300_000),))
                    for a in request.appends
                ),
            )
            persist_and_apply(store, entry(index, request))
        tail = Tail(store.read_page, 1)
        batches = []
        while (page := tail.next_page()[0]).events:
            batch = page.events
            batches.append(len(batch))
            assert sum(len(e.data) for e in batch[:-1]) < SUBSCRIPTION_BATCH_BYTES
        assert batches == [4, 4, 2]  # each stops at the event that reaches 1 MiB


def test_a_subscriber_that_reads_nothing_is_paused_then_dropped_with_a_reason(
    tmp_path: Path,
) -> None:
    """It is sent what its socket takes, then nothing more while it does not read; after
    ``subscriber_stall`` seconds of that its connection is closed and the node says why. The
    node goes on serving everyone else meanwhile."""

    async def main() -> None:
        async with cluster(tmp_path) as c:
            for node_id in c.addresses:
                c.settings[node_id] = {"subscriber_stall": 0.5}
            for node_id in list(c.nodes):
                await c.stop(node_id)
                await c.start(c.build(node_id))
            leader = await c.elect()
            client = c.client()
            for _ in range(24):  # 21 MiB: more than loopback's socket buffers hold
                await c.ticking(client.append("big", [NewEvent("E", b"x" * 900_000)]), "append")
            host, port = c.address(leader.config.node_id).split(":")
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((host, int(port)))
            server = c.servers[leader.config.node_id]
            before = len(server._connections)
            with capture_logs() as logs:
                sock.sendall(encode_frame(hello(CLUSTER_ID, "client", 0)))
                sock.sendall(encode_frame([1, "subscribe", {"from_position": 1}]))
                await c.observe(lambda: len(server._connections) == before + 1, "it connects")
                await c.observe(lambda: len(server._connections) == before, "it is dropped")
                late = await c.ticking(client.append("big", [NewEvent("E", b"y")]), "append")
            sock.close()
            assert late.stream_version == 25
            dropped = [log for log in logs if log["event"] == "subscriber_dropped"]
            assert len(dropped) == 1 and dropped[0]["reason"] == "it read nothing for 0.5s"

    run(main)
