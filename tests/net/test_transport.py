"""PeerTransport over real sockets on 127.0.0.1.

Each test runs ``asyncio.run`` inside a plain test function (no pytest-asyncio). A test node is
a listening socket bound to port 0 plus a PeerTransport; its server reads the hello with
``read_hello`` and hands peers to ``serve_peer``, as the node's server does. Sockets are bound
before anything dials them, so a node that "starts later" refuses connections until it
listens, with no port race. Conditions are polled with a deadline, never slept for.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any

import pytest
import structlog

from eventlog.errors import FrameError
from eventlog.node.transport import READ_CHUNK, PeerTransport, backoff_delay
from eventlog.protocol.frames import FRAME_VERSION, FrameDecoder, encode_frame
from eventlog.protocol.hello import Hello, hello
from eventlog.protocol.streams import read_hello
from eventlog.raft.codec import pack_message, unpack_message
from eventlog.raft.messages import AppendEntries, Heartbeat, Message
from eventlog.raft.records import Entry
from eventlog.types import LogIndex, NodeId, Term
from tests.net.helpers import encode_frames
from tests.polling import eventually

CLUSTER = "test-cluster"
SERVER_MAX_FRAME = 64 * 1024
DEADLINE = 10.0


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one test's body with an overall deadline, so a hang fails instead of stalling."""

    async def bounded() -> None:
        async with asyncio.timeout(30):
            await main()

    asyncio.run(bounded())


def heartbeat(src: int, dst: int, commit: int) -> Heartbeat:
    return Heartbeat(src=NodeId(src), dst=NodeId(dst), term=Term(1), commit=LogIndex(commit))


def append(index: int, size: int) -> AppendEntries:
    """Node 1's append of one entry of ``size`` bytes at ``index`` to node 2."""
    entry = Entry(term=Term(1), index=LogIndex(index), data=b"x" * size)
    return AppendEntries(
        src=NodeId(1),
        dst=NodeId(2),
        term=Term(1),
        prev_log_index=LogIndex(index - 1),
        prev_log_term=Term(1),
        entries=(entry,),
        leader_commit=LogIndex(0),
    )


def commits(messages: Iterable[Message]) -> list[int]:
    return [m.commit for m in messages if isinstance(m, Heartbeat)]


class TestNode:
    """A bound socket, a server on it (once started) and a PeerTransport."""

    __test__ = False  # not a pytest class

    def __init__(self, node_id: int) -> None:
        self.node_id = NodeId(node_id)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address: tuple[str, int] = self.sock.getsockname()
        self.received: list[Message] = []
        self.transport: PeerTransport | None = None
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[Any]] = set()

    def make_transport(self, peers: dict[NodeId, tuple[str, int]], **options: Any) -> None:
        options.setdefault("rng", random.Random(7))
        options.setdefault("backoff_cap", 0.2)
        self.transport = PeerTransport(
            node_id=self.node_id,
            cluster_id=CLUSTER,
            peers=peers,
            deliver=self.received.append,
            **options,
        )

    async def listen(self) -> None:
        self.server = await asyncio.start_server(self._accept, sock=self.sock)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self.transport is not None
        self.handlers.add(task)
        decoder = FrameDecoder(max_frame_bytes=SERVER_MAX_FRAME)
        try:
            greeting = await read_hello(reader, decoder, timeout=2.0)
            await self.transport.serve_peer(reader, writer, greeting, decoder)
        except (FrameError, TimeoutError, OSError) as error:
            structlog.get_logger("test").warning("hello_rejected", reason=str(error))
        finally:
            self.handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def close(self) -> None:
        if self.transport is not None:
            await self.transport.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for task in list(self.handlers):
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        self.sock.close()


@contextlib.asynccontextmanager
async def cluster(
    count: int, *, listening: Iterable[int] | None = None, **options: Any
) -> AsyncIterator[dict[int, TestNode]]:
    """``count`` nodes that know each other; those in ``listening`` (default all) serve."""
    nodes = {i: TestNode(i) for i in range(1, count + 1)}
    try:
        addresses = {node.node_id: node.address for node in nodes.values()}
        for node in nodes.values():
            node.make_transport(addresses, **options)
        for i in listening if listening is not None else nodes:
            await nodes[i].listen()
        for node in nodes.values():
            assert node.transport is not None
            await node.transport.start()
        yield nodes
    finally:
        for node in nodes.values():
            await node.close()


def transport(node: TestNode) -> PeerTransport:
    assert node.transport is not None
    return node.transport


# -- read_hello --------------------------------------------------------------------------------


def test_read_hello_leaves_the_following_frames_unread() -> None:
    async def main() -> None:
        reader = asyncio.StreamReader()
        m = heartbeat(1, 2, 5)
        reader.feed_data(encode_frames([hello(CLUSTER, "peer", 1), pack_message(m)]))
        decoder = FrameDecoder()
        greeting = await read_hello(reader, decoder, timeout=1.0)
        assert greeting == Hello(cluster_id=CLUSTER, role="peer", node_id=NodeId(1))
        assert decoder.buffered == 0
        (body,) = decoder.feed(await reader.read(1 << 16))
        assert unpack_message(body) == m

    run(main)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "exceeds the cap"),
        (struct.pack(">I", 5000), "too large"),
        (encode_frame(["hello", 1, CLUSTER, "peer"]), "hello"),
        (encode_frame(hello(CLUSTER, "peer", 1))[:-1], "closed before"),
        (b"", "closed before"),
    ],
    ids=["http", "oversized", "malformed", "truncated", "eof"],
)
def test_read_hello_rejects_bad_input(data: bytes, reason: str) -> None:
    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        with pytest.raises(FrameError, match=reason):
            await read_hello(reader, FrameDecoder(), timeout=1.0)

    run(main)


def test_read_hello_times_out() -> None:
    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(encode_frame(hello(CLUSTER, "peer", 1))[:3])
        with pytest.raises(TimeoutError):
            await read_hello(reader, FrameDecoder(), timeout=0.05)

    run(main)


def test_backoff_is_full_jitter_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(attempt, rng, 0.05, 2.0) for attempt in range(200)]
    assert all(0.0 <= d <= 2.0 for d in delays)
    assert all(d <= 0.05 * 2**a for a, d in enumerate(delays[:5]))
    assert max(delays[10:]) > 1.0  # reaches the cap region once the bound saturates


# -- delivery ----------------------------------------------------------------------------------


def test_two_transports_exchange_messages_in_order() -> None:
    async def main() -> None:
        async with cluster(2) as nodes:
            one, two = nodes[1], nodes[2]
            entries = tuple(
                Entry(term=Term(1), index=LogIndex(i), data=b"e" * i) for i in range(1, 30)
            )
            append = AppendEntries(
                src=NodeId(1),
                dst=NodeId(2),
                term=Term(1),
                prev_log_index=LogIndex(0),
                prev_log_term=Term(0),
                entries=entries,
                leader_commit=LogIndex(0),
            )
            for batch in range(10):  # several send calls, some coalesced into one write
                transport(one).send(heartbeat(1, 2, batch * 50 + i) for i in range(50))
                transport(two).send(heartbeat(2, 1, batch * 50 + i) for i in range(50))
                await asyncio.sleep(0)
            transport(one).send([append])
            await eventually(lambda: len(two.received) == 501 and len(one.received) == 500)
            assert commits(two.received) == list(range(500))
            assert commits(one.received) == list(range(500))
            assert two.received[-1] == append
            assert transport(one).stats()[NodeId(2)]["sent"] == 501
            assert transport(one).stats()[NodeId(2)]["dropped"] == 0

    run(main)


def test_peer_started_later_is_reached_after_reconnect() -> None:
    async def main() -> None:
        with structlog.testing.capture_logs() as logs:
            async with cluster(2, listening=[1]) as nodes:
                one, two = nodes[1], nodes[2]
                transport(one).send([heartbeat(1, 2, 1), heartbeat(1, 2, 2)])
                await eventually(lambda: transport(one).stats()[NodeId(2)]["reconnects"] >= 2)
                assert two.received == []
                await two.listen()
                await eventually(lambda: len(two.received) == 2)
                assert commits(two.received) == [1, 2]
                # Node 2's own transport had been dialling node 1 all along.
                transport(two).send([heartbeat(2, 1, 9)])
                await eventually(lambda: commits(one.received) == [9])
        failures = [e for e in logs if e["event"] == "peer_connect_failed"]
        assert failures and all(e["peer"] == 2 for e in failures)
        assert any(e["event"] == "peer_connected" and e["peer"] == 2 for e in logs)

    run(main)


def test_bounded_queue_drops_oldest_while_peer_is_down() -> None:
    async def main() -> None:
        async with cluster(2, listening=[1], max_queue=3) as nodes:
            one, two = nodes[1], nodes[2]
            transport(one).send(heartbeat(1, 2, i) for i in range(1, 11))
            stats = transport(one).stats()[NodeId(2)]
            assert (stats["queued"], stats["dropped"]) == (3, 7)
            await two.listen()
            await eventually(lambda: len(two.received) == 3)
            assert commits(two.received) == [8, 9, 10]
            await eventually(lambda: transport(one).stats()[NodeId(2)]["sent"] == 3)

    run(main)


def test_the_queue_of_a_peer_that_is_down_is_bounded_in_bytes() -> None:
    """A leader writing large entries to a peer that is down holds at most the byte bound for
    it, oldest dropped first (Raft sends them again), not 10,000 messages of them."""

    async def main() -> None:
        async with cluster(2, listening=[1], max_queue_bytes=128 << 10) as nodes:
            one, two = nodes[1], nodes[2]
            transport(one).send(append(i, 16 << 10) for i in range(1, 101))
            stats = transport(one).stats()[NodeId(2)]
            assert stats["queued_bytes"] <= 128 << 10 and stats["queued"] == 7
            assert stats["dropped"] == 93
            await two.listen()
            await eventually(lambda: len(two.received) == 7)
            assert [m.entries[0].index for m in two.received] == list(range(94, 101))

    run(main)


def test_heartbeats_and_votes_go_before_bulk_replication_that_waits() -> None:
    """A peer that comes back to 1.6 MiB of appends waiting gets the heartbeat queued after
    them first: it hears its leader at once, not once the catch-up has crossed the wire; the
    appends follow in order, a slice at a time."""

    async def main() -> None:
        async with cluster(2, listening=[1]) as nodes:
            one, two = nodes[1], nodes[2]
            transport(one).send(append(i, 40 << 10) for i in range(1, 41))
            transport(one).send([heartbeat(1, 2, 7)])
            await two.listen()
            await eventually(lambda: len(two.received) == 41)
            assert isinstance(two.received[0], Heartbeat)
            appended = [m.entries[0].index for m in two.received[1:]]
            assert appended == list(range(1, 41))

    run(main)


def test_message_over_the_frame_cap_is_dropped_not_sent() -> None:
    async def main() -> None:
        async with cluster(2, max_frame_bytes=256) as nodes:
            one, two = nodes[1], nodes[2]
            big = Heartbeat(
                src=NodeId(1), dst=NodeId(2), term=Term(1), commit=LogIndex(1), context=b"x" * 300
            )
            transport(one).send([big, heartbeat(1, 2, 2)])
            await eventually(lambda: len(two.received) == 1)
            assert commits(two.received) == [2]
            assert transport(one).stats()[NodeId(2)]["dropped"] == 1

    run(main)


def test_unknown_destination_and_own_entry_are_ignored() -> None:
    async def main() -> None:
        async with cluster(2) as nodes:
            one, two = nodes[1], nodes[2]
            assert set(transport(one).stats()) == {NodeId(2)}  # never dials itself
            transport(one).send([heartbeat(1, 7, 1), heartbeat(1, 2, 2)])
            await eventually(lambda: commits(two.received) == [2])

    run(main)


# -- bad peers ---------------------------------------------------------------------------------


def _frame_with_length(length: int) -> bytes:
    return struct.pack(">I", length)


PEER_HELLO = encode_frame(hello(CLUSTER, "peer", 3))
GOOD_3_TO_2 = encode_frame(pack_message(heartbeat(3, 2, 77)))

BAD_CONNECTIONS: list[tuple[str, bytes, bool, str]] = [
    # (case, bytes sent after connecting, half-close after sending, expected reason)
    ("garbage", PEER_HELLO + b"\x00\x00\x00\x05\x01\xc1\xc1\xc1\xc1", False, "msgpack"),
    ("bad_version", PEER_HELLO + struct.pack(">IB", 2, 9) + b"\x01", False, "version"),
    ("unknown_tag", PEER_HELLO + encode_frame([42, 3, 2, 1]), False, "unknown message tag"),
    ("wrong_arity", PEER_HELLO + encode_frame([5, 3, 2, 1]), False, "needs 5 fields"),
    ("oversized", PEER_HELLO + _frame_with_length(SERVER_MAX_FRAME + 1), False, "exceeds"),
    ("truncated", PEER_HELLO + GOOD_3_TO_2[:-3], True, "inside a frame"),
    ("wrong_cluster", encode_frame(hello("other", "peer", 3)), False, "cluster id"),
    ("unknown_peer", encode_frame(hello(CLUSTER, "peer", 9)), False, "not a peer"),
    ("client_role", encode_frame(hello(CLUSTER, "client", 0)), False, "expected a peer"),
    (
        "spoofed_src",
        PEER_HELLO + encode_frame(pack_message(heartbeat(1, 2, 5))),
        False,
        "from 1 on node 3",
    ),
    (
        "wrong_dst",
        PEER_HELLO + encode_frame(pack_message(heartbeat(3, 1, 5))),
        False,
        "for node 1",
    ),
]


async def _send_raw(address: tuple[str, int], data: bytes, half_close: bool) -> bytes:
    """Send ``data`` on a fresh connection and return what the server sent until it closed."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(data)
        if half_close:
            writer.write_eof()
        await writer.drain()
        async with asyncio.timeout(DEADLINE):
            return await reader.read()  # EOF: the server closed this connection
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@pytest.mark.parametrize(
    ("case", "data", "half_close", "reason"), BAD_CONNECTIONS, ids=[c[0] for c in BAD_CONNECTIONS]
)
def test_bad_connection_is_closed_alone_and_logged(
    case: str, data: bytes, half_close: bool, reason: str
) -> None:
    async def main() -> None:
        with structlog.testing.capture_logs() as logs:
            async with cluster(3) as nodes:
                one, two = nodes[1], nodes[2]
                transport(one).send([heartbeat(1, 2, 1)])
                await eventually(lambda: commits(two.received) == [1])

                assert await _send_raw(two.address, data, half_close) == b""

                transport(one).send([heartbeat(1, 2, 2)])
                await eventually(lambda: commits(two.received) == [1, 2])
                assert transport(one).stats()[NodeId(2)]["reconnects"] == 0
                assert [m for m in two.received if m.src == NodeId(3)] == []
        rejected = [e for e in logs if e["event"] == "frame_rejected" and e["node_id"] == 2]
        assert len(rejected) == 1, logs
        assert reason in rejected[0]["reason"]
        assert rejected[0]["log_level"] == "warning"

    run(main)


def test_garbage_instead_of_a_hello_closes_only_that_connection() -> None:
    async def main() -> None:
        async with cluster(2) as nodes:
            one, two = nodes[1], nodes[2]
            transport(one).send([heartbeat(1, 2, 1)])
            await eventually(lambda: commits(two.received) == [1])
            garbage = struct.pack(">IB", 3, FRAME_VERSION) + b"\xc1\xc1"
            assert await _send_raw(two.address, garbage, False) == b""
            transport(one).send([heartbeat(1, 2, 2)])
            await eventually(lambda: commits(two.received) == [1, 2])

    run(main)


def test_messages_after_a_good_hello_on_a_raw_connection_are_delivered() -> None:
    async def main() -> None:
        async with cluster(3, listening=[2]) as nodes:
            two = nodes[2]
            more = encode_frames(pack_message(heartbeat(3, 2, i)) for i in range(5))
            assert await _send_raw(two.address, PEER_HELLO + more, True) == b""
            assert commits(two.received) == [0, 1, 2, 3, 4]

    run(main)


# -- shutdown ----------------------------------------------------------------------------------


def test_close_leaves_no_running_tasks_and_is_idempotent() -> None:
    async def main() -> None:
        this = asyncio.current_task()
        async with cluster(3, listening=[1, 2]) as nodes:
            transport(nodes[1]).send([heartbeat(1, 2, 1), heartbeat(1, 3, 1)])
            transport(nodes[2]).send([heartbeat(2, 1, 1)])
            await eventually(lambda: len(nodes[2].received) == 1 == len(nodes[1].received))
            assert len(asyncio.all_tasks()) > 1
            for node in nodes.values():
                await transport(node).close()
                await transport(node).close()
            # The transports' own tasks are gone at once; server handlers end soon after.
            assert [t for t in asyncio.all_tasks() if t.get_name().startswith("peer-")] == []
            transport(nodes[1]).send([heartbeat(1, 2, 2)])  # a no-op after close
            assert transport(nodes[1]).stats()[NodeId(2)]["queued"] == 0
        for node in nodes.values():
            await transport(node).close()
        await eventually(lambda: asyncio.all_tasks() == {this})
        assert all(node.sock.fileno() == -1 for node in nodes.values())

    run(main)


def test_a_path_that_swallows_everything_is_dropped_and_redialled() -> None:
    """The first connection to node 2 reaches a black hole that accepts bytes and never
    delivers them; with no answer within the timeout, node 1 dials again and gets through."""

    async def main() -> None:
        nodes = {i: TestNode(i) for i in (1, 2)}
        swallowed: list[bytes] = []

        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not swallowed:
                swallowed.append(b"")
                while chunk := await reader.read(READ_CHUNK):
                    swallowed.append(chunk)
                return
            _, up_writer = await asyncio.open_connection(*nodes[2].address)
            with contextlib.suppress(OSError):
                while chunk := await reader.read(READ_CHUNK):
                    up_writer.write(chunk)
                    await up_writer.drain()
            up_writer.close()

        proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
        proxy_address = proxy.sockets[0].getsockname()[:2]
        try:
            nodes[1].make_transport({NodeId(2): proxy_address}, answer_timeout=0.3)
            nodes[2].make_transport({NodeId(1): nodes[1].address})
            for node in nodes.values():
                await node.listen()
                await transport(node).start()
            # Node 2 answers every heartbeat, as Raft answers every request.
            answered: set[int] = set()

            async def answer() -> None:
                while True:
                    for m in list(nodes[2].received):
                        if isinstance(m, Heartbeat) and m.commit not in answered:
                            answered.add(m.commit)
                            transport(nodes[2]).send([heartbeat(2, 1, m.commit)])
                    await asyncio.sleep(0.005)

            answering = asyncio.create_task(answer())
            transport(nodes[1]).send([heartbeat(1, 2, 1)])
            await eventually(lambda: len(swallowed) > 1)
            assert nodes[2].received == []
            for commit in range(2, 40):  # Raft keeps sending: heartbeats, retries
                transport(nodes[1]).send([heartbeat(1, 2, commit)])
                with contextlib.suppress(TimeoutError):
                    await eventually(lambda: bool(nodes[2].received), 0.05)
                if nodes[2].received:
                    break
            await eventually(lambda: bool(nodes[2].received) and bool(nodes[1].received))
            assert transport(nodes[1]).stats()[NodeId(2)]["reconnects"] >= 1
            answering.cancel()
        finally:
            proxy.close()
            for node in nodes.values():
                await node.close()

    run(main)
