"""Nodes, their servers and clients in one process and one event loop, one tick at a time.

Raft messages travel over a ``MemoryNetwork``; clients reach the servers over loopback TCP, on
ports each reserved for the whole test by a bound socket, so a restarted node gets its port
back and no other test takes it. No node ticks by itself: ``until`` ticks them all, and only
when every node's Ready loop and the network are quiet, so a tick never outruns a write and a
run is the same for the same seed whatever the machine's speed. Batches are stamped by a
``ManualClock``. The cluster always stops what it started, even when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import attrs

from eventlog.client import AsyncClient
from eventlog.node.node import STAGED_FLUSH_DELAY, Node, NodeConfig
from eventlog.node.server import Server
from eventlog.raft.ready import Role
from eventlog.types import LogIndex, NodeId
from tests.node.memory_transport import MemoryNetwork

T = TypeVar("T")

CLUSTER_ID = "node-tests"
TEST_DEADLINE = 30.0
"""Seconds one test may run at most: a hang fails instead of stalling the suite."""
POLL = 0.001
"""Seconds between two looks at the cluster while it works (a write in a thread, a client's
bytes on the wire); never a wait for a state."""
TICK_MS = 1000.0
"""Only sets how long a node waits for a ReadIndex confirmation (four election timeouts of
``tick_ms``: a minute here), so that a read can fail in a test only for a reason of Raft's."""
ELECTION_TICK = 15
HEARTBEAT_TICK = 3
"""Ticks here are logical (the test moves them): short timeouts keep a test few ticks long."""
START_MS = 1_700_000_000_000


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one test's body in a fresh event loop, within ``TEST_DEADLINE``."""

    async def bounded() -> None:
        async with asyncio.timeout(TEST_DEADLINE):
            await main()

    asyncio.run(bounded())


@attrs.define
class ManualClock:
    """The leader's clock for batch stamps: it moves only when a test moves it."""

    now_ms: int = START_MS

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


class Cluster:
    """``size`` nodes with data under ``root``; ``nodes`` holds the live ones."""

    def __init__(self, root: Path, size: int, *, seed: int, flush_delay: float) -> None:
        self.root, self.seed, self.flush_delay = root, seed, flush_delay
        self.network = MemoryNetwork()
        self.clock = ManualClock()
        self.settings: dict[NodeId, dict[str, Any]] = {}
        """``NodeConfig`` fields to set on a node the next time it is built."""
        self.wall_skew_ms: dict[NodeId, int] = {}
        """How far each node's wall clock is off (the shared monotonic clock is never off)."""
        self.nodes: dict[NodeId, Node] = {}
        self.servers: dict[NodeId, Server] = {}
        self.ticks = 0
        self._clients: list[AsyncClient] = []
        self._ports: dict[NodeId, socket.socket] = {}
        for node_id in (NodeId(i) for i in range(1, size + 1)):
            reservation = socket.socket()
            reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            reservation.bind(("127.0.0.1", 0))  # never listens: the server binds beside it
            self._ports[node_id] = reservation
        self.addresses = {node: sock.getsockname() for node, sock in self._ports.items()}
        self._restarts = dict.fromkeys(self.addresses, 0)

    # -- nodes ----------------------------------------------------------------------------------
    def build(self, node_id: NodeId) -> Node:
        """A node over the memory network, seeded from the test's seed, not yet started."""
        config = NodeConfig(
            node_id=node_id,
            cluster_id=CLUSTER_ID,
            addresses=self.addresses,
            data_dir=str(self.root / f"node-{node_id}"),
            tick_ms=TICK_MS,
            election_tick=ELECTION_TICK,
            heartbeat_tick=HEARTBEAT_TICK,
            sync=False,
            flush_delay=self.flush_delay,
        )
        config = attrs.evolve(config, **self.settings.get(node_id, {}))
        rng = random.Random(f"{self.seed}/{node_id}/{self._restarts[node_id]}")
        self._restarts[node_id] += 1
        return Node(
            config,
            transport=self.network.transport,
            clock_ms=lambda: self.clock() + self.wall_skew_ms.get(node_id, 0),
            elapsed_ms=self.clock,
            rng=rng,
            tick_loop=False,
        )

    async def start(self, node: Node) -> Node:
        node_id = node.config.node_id
        server = Server(node)
        self.nodes[node_id], self.servers[node_id] = node, server
        await server.start()
        await node.start()
        return node

    async def stop(self, node_id: NodeId, *, crash: bool = False) -> None:
        """Stop a node and its server; ``crash`` loses what the node staged and never wrote."""
        server, node = self.servers.pop(node_id), self.nodes.pop(node_id)
        try:
            await server.close()
        finally:
            await node.stop(flush=not crash)

    async def close(self) -> None:
        """Close every client, server and node, then the port reservations; the first error
        is raised once all are closed."""
        errors: list[BaseException] = []
        closing = [client.close() for client in self._clients]
        closing += [self.stop(node_id) for node_id in list(self.nodes)]
        for done in closing:
            try:
                await done
            except Exception as error:
                errors.append(error)
        for reservation in self._ports.values():
            reservation.close()
        if errors:
            raise errors[0]

    # -- time -----------------------------------------------------------------------------------
    def idle(self) -> bool:
        return self.network.in_flight == 0 and all(node.idle() for node in self.nodes.values())

    async def until(self, condition: Callable[[], bool], what: str, *, ticks: int = 300) -> None:
        """Tick every live node, each time the cluster is idle, until ``condition()`` holds;
        fail once ``ticks`` ticks went by without it."""
        used = 0
        while not condition():
            if self.idle():
                if used >= ticks:
                    raise AssertionError(f"not within {ticks} ticks: {what}")
                used += 1
                self.ticks += 1
                for node in list(self.nodes.values()):
                    node.tick()
            await asyncio.sleep(POLL)

    async def observe(
        self, condition: Callable[[], bool], what: str, timeout: float = 10.0
    ) -> None:
        """Wait, without a tick, until ``condition()`` holds (a client's call reaching a node):
        no Raft timer may fire meanwhile."""
        try:
            async with asyncio.timeout(timeout):
                while not condition():
                    await asyncio.sleep(POLL)
        except TimeoutError:
            raise AssertionError(f"not within {timeout}s: {what}") from None

    async def elect(self, *, ticks: int = 300) -> Node:
        """The leader that every live node follows, once there is one and every node's Ready
        loop has taken that in (a node reports a new leader to its callers in a Ready)."""
        await self.until(
            lambda: self.idle() and self.agreed_leader() is not None,
            "a leader all follow",
            ticks=ticks,
        )
        leader = self.agreed_leader()
        assert leader is not None
        return leader

    def agreed_leader(self) -> Node | None:
        leaders = [node for node in self.nodes.values() if node.core.role is Role.LEADER]
        if len(leaders) != 1:
            return None
        leader = leaders[0]
        led = all(node.core.leader == leader.config.node_id for node in self.nodes.values())
        # Its term's first entry committed: it may serve reads and answer appends now.
        committed = leader.core.log.term(leader.core.log.committed) == leader.core.term
        return leader if led and committed else None

    def followers(self) -> list[Node]:
        return [node for node in self.nodes.values() if node.core.role is Role.FOLLOWER]

    async def caught_up(self) -> None:
        """Every live node has applied, and written, all the leader committed."""
        leader = await self.elect()
        target = leader.core.log.committed
        await self.until(
            lambda: all(node.core.log.applied >= target for node in self.nodes.values()),
            f"every node applying through {target}",
        )
        for node in self.nodes.values():
            await node.wait_applied(LogIndex(target))

    # -- clients --------------------------------------------------------------------------------
    def address(self, node_id: NodeId) -> str:
        host, port = self.addresses[node_id]
        return f"{host}:{port}"

    def client(self, *node_ids: NodeId, timeout: float = 10.0) -> AsyncClient:
        """A client of the given nodes (every node if none), closed with the cluster."""
        listed = node_ids or tuple(self.addresses)
        client = AsyncClient([self.address(n) for n in listed], timeout, cluster_id=CLUSTER_ID)
        self._clients.append(client)
        return client

    async def ticking(self, call: Awaitable[T], what: str, ticks: int = 5000) -> T:
        """Await ``call`` while the cluster keeps ticking (a client may retry across an
        election); its result, or its exception raised here."""
        task = asyncio.ensure_future(call)
        try:
            await self.until(task.done, what, ticks=ticks)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return task.result()


@contextlib.asynccontextmanager
async def cluster(
    root: Path, size: int = 3, *, seed: int = 1, flush_delay: float = STAGED_FLUSH_DELAY
) -> AsyncIterator[Cluster]:
    """Start ``size`` nodes (none elected yet); stop them all on the way out, whatever
    happened."""
    built = Cluster(root, size, seed=seed, flush_delay=flush_delay)
    try:
        for node_id in built.addresses:
            await built.start(built.build(node_id))
        yield built
    finally:
        await built.close()
