"""The in-memory network the node tests run on: it must lose, keep order and copy as promised,
or the node tests would prove less than they say."""

from __future__ import annotations

import asyncio

from eventlog.node.node import NodeConfig
from eventlog.raft.messages import Heartbeat, HeartbeatResponse, Message
from eventlog.types import LogIndex, NodeId, Term
from tests.node.harness import run
from tests.node.memory_transport import MemoryNetwork, MemoryTransport

ADDRESSES = {NodeId(i): ("127.0.0.1", 0) for i in (1, 2, 3)}


def heartbeat(src: int, dst: int, commit: int = 0) -> Heartbeat:
    return Heartbeat(src=NodeId(src), dst=NodeId(dst), term=Term(1), commit=LogIndex(commit))


async def wired(network: MemoryNetwork) -> dict[int, tuple[MemoryTransport, list[Message]]]:
    """Three started ends, each recording what it is delivered."""
    ends: dict[int, tuple[MemoryTransport, list[Message]]] = {}
    for node in ADDRESSES:
        received: list[Message] = []
        config = NodeConfig(node_id=node, cluster_id="c", addresses=ADDRESSES, data_dir="-")
        transport = network.transport(config, received.append)
        await transport.start()
        ends[node] = (transport, received)
    return ends


async def quiet(network: MemoryNetwork) -> None:
    while network.in_flight:
        await asyncio.sleep(0)


def test_messages_arrive_later_in_order_as_copies() -> None:
    async def main() -> None:
        network = MemoryNetwork()
        ends = await wired(network)
        sent = [heartbeat(1, 2, commit) for commit in range(5)]
        ends[1][0].send(sent)
        assert ends[2][1] == []  # not delivered inside send: the sender's Ready is not re-entered
        await quiet(network)
        assert ends[2][1] == sent
        assert all(got is not original for got, original in zip(ends[2][1], sent, strict=True))
        assert ends[1][0].stats()[NodeId(2)]["sent"] == 5

    run(main)


def test_a_one_way_cut_loses_one_direction_only() -> None:
    async def main() -> None:
        network = MemoryNetwork()
        ends = await wired(network)
        network.cut(NodeId(2), NodeId(1), both_ways=False)
        ends[1][0].send([heartbeat(1, 2)])
        ends[2][0].send([HeartbeatResponse(src=NodeId(2), dst=NodeId(1), term=Term(1))])
        await quiet(network)
        assert len(ends[2][1]) == 1
        assert ends[1][1] == []
        assert ends[2][0].stats()[NodeId(1)]["dropped"] == 1

    run(main)


def test_a_cut_or_a_close_loses_what_is_already_on_its_way() -> None:
    async def main() -> None:
        network = MemoryNetwork()
        ends = await wired(network)
        ends[1][0].send([heartbeat(1, 2), heartbeat(1, 3)])
        network.isolate(NodeId(2))
        await ends[3][0].close()
        await quiet(network)
        assert ends[2][1] == [] and ends[3][1] == []
        network.heal()
        ends[1][0].send([heartbeat(1, 2), heartbeat(1, 3)])
        await quiet(network)
        assert len(ends[2][1]) == 1 and ends[3][1] == []  # healing reopens links, not nodes

    run(main)


def test_a_drop_filter_loses_only_what_it_matches() -> None:
    async def main() -> None:
        network = MemoryNetwork()
        ends = await wired(network)
        network.drop = lambda m: isinstance(m, Heartbeat) and m.commit == 1
        ends[1][0].send([heartbeat(1, 2, 0), heartbeat(1, 2, 1), heartbeat(1, 2, 2)])
        await quiet(network)
        assert [m.commit for m in ends[2][1] if isinstance(m, Heartbeat)] == [0, 2]

    run(main)
