"""A leader holds a bounded number (and size) of appends waiting for their commit; past it it
answers ``Overloaded`` at once and takes nothing of the request, and a client waits a little
and tries the same node again within its deadline, so what it holds is answered as committed
once the cluster catches up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from eventlog.errors import Overloaded
from eventlog.protocol.requests import new_request
from eventlog.records import NewEvent
from tests.node.harness import cluster, run


def note(text: str, size: int = 0) -> list[NewEvent]:
    return [NewEvent("Noted", text.encode().ljust(size, b"."))]


def test_a_leader_holding_its_most_answers_overloaded_then_takes_again(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            for node_id in c.addresses:
                c.settings[node_id] = {"max_held_appends": 5, "max_held_bytes": 10_000}
            for node_id in list(c.nodes):
                await c.stop(node_id)
                await c.start(c.build(node_id))
            leader = await c.elect()
            c.network.isolate(leader.config.node_id)  # nothing commits; no tick runs
            held = [leader.append(new_request([("s", note(f"h{n}"), -1)])) for n in range(5)]
            with pytest.raises(Overloaded, match="5 appends"):
                leader.append(new_request([("s", note("one too many"), -1)]))
            c.network.heal()
            client = c.client(leader.config.node_id)
            late = asyncio.ensure_future(client.append("s", note("retried")))
            outcomes = await c.ticking(asyncio.gather(*held), "the held appends")
            assert all(o.error is None for o in outcomes)
            await c.ticking(late, "the client's append, tried again")
            events = await c.ticking(client.read_stream("s"), "a read")
            assert [e.data for e in events] == [f"h{n}".encode() for n in range(5)] + [b"retried"]
            big = [leader.append(new_request([("s", note("b", 4000), -1)])) for _ in range(2)]
            with pytest.raises(Overloaded, match="10,000 bytes"):  # a third is past the bytes
                leader.append(new_request([("s", note("b", 4000), -1)]))
            await c.ticking(asyncio.gather(*big), "the big appends")

    run(main)
