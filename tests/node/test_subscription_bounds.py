"""What a subscriber that does not read can make a node hold is bounded: a connection holds
at most ``MAX_SUBSCRIPTIONS_PER_CONNECTION`` subscriptions, and each sends at most
``SUBSCRIPTION_BATCH_BYTES`` of events at a time before it waits for the socket to drain."""

from __future__ import annotations

from pathlib import Path

from eventlog.client.connection import dial
from eventlog.node.server import MAX_SUBSCRIPTIONS_PER_CONNECTION
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
        tail = Tail(store.read_all, 1)
        batches = []
        while batch := tail.next_batch():
            batches.append(len(batch))
            assert sum(len(e.data) for e in batch[:-1]) < SUBSCRIPTION_BATCH_BYTES
        assert batches == [4, 4, 2]  # each stops at the event that reaches 1 MiB
