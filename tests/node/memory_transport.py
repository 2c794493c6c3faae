"""The in-memory twin of ``PeerTransport``: Raft messages between the nodes of one event loop.

A message sent now is delivered on a later turn of the loop (``call_soon``), in send order on
each link, after a round trip through the wire codec, so it arrives as a copy and only if it
could have travelled. A link that is cut, in one direction or both, loses what it carries,
whether cut before the send or while the message was on its way; so does a closed node.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Callable, Iterable, Mapping

from eventlog.node.incarnations import Incarnations
from eventlog.node.node import NodeConfig
from eventlog.protocol.frames import FrameDecoder
from eventlog.protocol.hello import Hello
from eventlog.protocol.reports import Report, pack_report, unpack_report
from eventlog.raft.codec import pack_message, unpack_message
from eventlog.raft.messages import Message
from eventlog.types import NodeId

Deliver = Callable[[Message], None]
Link = tuple[NodeId, NodeId]


class MemoryNetwork:
    """The wire between the nodes of one loop, with cuts and drops for partitions."""

    def __init__(self) -> None:
        self._inboxes: dict[NodeId, Deliver] = {}
        self._cut: set[Link] = set()
        self.drop: Callable[[Message], bool] = lambda m: False
        """A message it returns True for is lost (a filter for one kind of message)."""
        self.in_flight = 0
        """Messages sent and not yet delivered or lost: zero once the network is quiet."""
        self.sent: collections.Counter[Link] = collections.Counter()
        self.dropped: collections.Counter[Link] = collections.Counter()
        self.transports: dict[NodeId, MemoryTransport] = {}

    def transport(self, config: NodeConfig, deliver: Deliver) -> MemoryTransport:
        """A ``TransportFactory`` for ``Node``: the node's own end of this network."""
        peers = tuple(sorted(node for node in config.addresses if node != config.node_id))
        return MemoryTransport(self, config.node_id, peers, deliver)

    # -- partitions -----------------------------------------------------------------------------
    def cut(self, src: NodeId, dst: NodeId, *, both_ways: bool = True) -> None:
        self._cut.add((src, dst))
        if both_ways:
            self._cut.add((dst, src))

    def isolate(self, node: NodeId) -> None:
        """Cut every link to and from ``node``."""
        for other in list(self._inboxes):
            if other != node:
                self.cut(node, other)

    def heal(self) -> None:
        self._cut.clear()
        self.drop = lambda m: False

    # -- carrying -------------------------------------------------------------------------------
    def attach(self, node: NodeId, deliver: Deliver) -> None:
        self._inboxes[node] = deliver

    def detach(self, node: NodeId, deliver: Deliver) -> None:
        if self._inboxes.get(node) is deliver:
            del self._inboxes[node]

    def post(self, m: Message) -> None:
        link = (m.src, m.dst)
        if not self._passes(m):
            self.dropped[link] += 1
            return
        self.sent[link] += 1
        self.in_flight += 1
        asyncio.get_running_loop().call_soon(self._arrive, unpack_message(pack_message(m)))

    def report(self, src: NodeId, dst: NodeId, report: Report) -> None:
        def arrive() -> None:
            target = self.transports.get(dst)
            if (src, dst) not in self._cut and target is not None and target.on_report:
                target.on_report(src, report)

        if (src, dst) not in self._cut:
            asyncio.get_running_loop().call_soon(arrive)

    def _arrive(self, m: Message) -> None:
        self.in_flight -= 1
        if not self._passes(m):
            self.dropped[(m.src, m.dst)] += 1
            return
        self._inboxes[m.dst](m)

    def _passes(self, m: Message) -> bool:
        target = self.transports.get(m.dst)
        return (
            (target is None or m.src in target.peers)  # a node hears members only
            and m.src in self._inboxes
            and m.dst in self._inboxes
            and (m.src, m.dst) not in self._cut
            and not self.drop(m)
        )


class MemoryTransport:
    """One node's end of a ``MemoryNetwork``; the surface of ``PeerTransport`` a node uses."""

    def __init__(
        self, network: MemoryNetwork, node_id: NodeId, peers: tuple[NodeId, ...], deliver: Deliver
    ) -> None:
        self.network, self.node_id, self.peers, self._deliver = network, node_id, peers, deliver
        self.cluster_id = ""
        self.incarnations: Incarnations | None = None
        self.on_report: Callable[[NodeId, Report], None] | None = None
        self.on_peer_gone: Callable[[NodeId], None] | None = None
        self.tls_context: ssl.SSLContext | None = None
        self._closed = False

    async def start(self) -> None:
        if not self._closed:
            self.network.attach(self.node_id, self._deliver)
            self.network.transports[self.node_id] = self

    async def close(self) -> None:
        self._closed = True
        self.network.detach(self.node_id, self._deliver)
        if self.network.transports.get(self.node_id) is self:
            del self.network.transports[self.node_id]

    def send(self, messages: Iterable[Message]) -> None:
        if self._closed:
            return
        for m in messages:
            self.network.post(m)

    def set_peers(self, peers: Mapping[NodeId, tuple[str, int]]) -> None:
        """Follow a new configuration: as the TCP transport, this node hears only members."""
        self.peers = tuple(sorted(node for node in peers if node != self.node_id))

    def report(self, report: Report) -> None:
        """Reports arrive on a later turn, like messages, unless the link is cut."""
        if self._closed:
            return
        for peer in self.peers:
            self.network.report(self.node_id, peer, unpack_report(pack_report(report)))

    def stats(self) -> dict[NodeId, dict[str, int]]:
        sent, dropped = self.network.sent, self.network.dropped
        return {
            peer: {
                "sent": sent[(self.node_id, peer)],
                "dropped": dropped[(self.node_id, peer)],
                "reconnects": 0,
                "queued": 0,
            }
            for peer in self.peers
        }

    async def serve_peer(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        hello: Hello,
        decoder: FrameDecoder,
    ) -> None:
        """No peer dials a node of the memory network: the server closes such a connection."""
