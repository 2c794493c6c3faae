"""Asyncio TCP between Raft peers: one outbound connection per peer, batched writes, backoff.

Raft tolerates lost, duplicated and reordered messages, so the transport never blocks the
caller and never retries a message: ``send`` only queues, a bounded queue drops its oldest
message when full, and a connection that fails loses what was being written. What it must do
is keep order on each connection, reconnect without hammering a peer that is down (full-jitter
exponential backoff), and never let a peer's bad bytes crash the node (every malformed frame
closes only that peer's connection, with a logged reason).

Inbound and outbound are separate connections: each node dials every peer and serves the
connections its peers dial. The node's server owns the listening socket (shared with clients),
reads the hello (``protocol.hello.read_hello``) and hands peer connections to
:meth:`PeerTransport.serve_peer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Protocol

import structlog

from eventlog.errors import FrameError
from eventlog.node.config import NodeConfig
from eventlog.node.incarnations import Incarnations
from eventlog.node.outbox import DEFAULT_MAX_QUEUE_BYTES, WRITE_SLICE_BYTES, Outbox, message_bytes
from eventlog.protocol.frames import (
    DEFAULT_MAX_FRAME_BYTES,
    HEADER_BYTES,
    FrameDecoder,
    encode_frame,
)
from eventlog.protocol.hello import Hello, check_peer, hello
from eventlog.protocol.reports import Report, is_report, pack_report, unpack_report
from eventlog.raft.codec import pack_message, unpack_message
from eventlog.raft.messages import Message
from eventlog.security.identity import node_of
from eventlog.security.tls import client_context
from eventlog.types import NodeId

__all__ = [
    "ANSWER_TIMEOUT",
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "DEFAULT_MAX_QUEUE_BYTES",
    "READ_CHUNK",
    "WRITE_SLICE_BYTES",
    "Deliver",
    "PeerTransport",
    "Transport",
    "TransportFactory",
    "backoff_delay",
    "message_bytes",
    "peer_transport",
]

BACKOFF_BASE: Final = 0.05
"""First reconnect delay bound, in seconds; it doubles per failed attempt."""
BACKOFF_CAP: Final = 2.0
"""Largest reconnect delay bound; also how long a connection must live to reset the backoff."""
READ_CHUNK: Final = 1 << 16
ANSWER_TIMEOUT: Final = 5.0
"""Seconds we may write to a peer without hearing anything back before the connection is
presumed dead: a path that accepts bytes but never delivers them (a hung proxy, a black-holed
route) looks healthy to TCP, and Raft answers every request, so silence means a broken path."""

_RANDOM = random.Random()
"""Jitter only spreads reconnects apart, so an unseeded module RNG is fine by default."""


def backoff_delay(attempt: int, rng: random.Random, base: float, cap: float) -> float:
    """Full jitter (uniform in [0, min(cap, base * 2**attempt)]), so peers that lost the same
    node do not reconnect in lockstep."""
    return rng.uniform(0.0, min(cap, base * 2 ** min(attempt, 32)))


class Transport(Protocol):
    """What a node needs of its link to its peers. ``PeerTransport`` is the TCP one; a test
    may give the node a twin that keeps the messages in memory."""

    cluster_id: str
    """Said in the hello and asked of peers; empty while the cluster is not named yet."""
    incarnations: Incarnations | None
    """The store ids said in the hello and checked of peers; None: no check."""
    on_report: Callable[[NodeId, Report], None] | None
    """Given each report a peer sends."""
    on_peer_gone: Callable[[NodeId], None] | None
    """Told when a peer closes the connection it sends us its messages on (it died, or
    stopped), as soon as it does."""
    tls_context: ssl.SSLContext | None
    """What it dials peers with (reloaded in place when certificates rotate); None: none."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def send(self, messages: Iterable[Message]) -> None:
        """Queue messages for their peers; never blocks, and may lose them (Raft retries)."""

    def report(self, report: Report) -> None:
        """Tell every peer this node's report (the latest replaces one not sent yet; a lost
        one is made good by the next)."""

    def set_peers(self, peers: Mapping[NodeId, tuple[str, int]]) -> None:
        """Follow a new configuration: talk to these members (our own id may be among them)
        and hear no one else."""

    async def serve_peer(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        hello: Hello,
        decoder: FrameDecoder,
    ) -> None:
        """Take over an inbound peer connection the server accepted, until it ends."""


class WrongPeer(ConnectionError):
    """The node dialed presented a certificate that is not its own node's."""


class PeerTransport:
    """Sends Raft messages to peers and delivers theirs; owns no listening socket."""

    def __init__(
        self,
        *,
        node_id: NodeId,
        cluster_id: str,
        peers: Mapping[NodeId, tuple[str, int]],
        deliver: Callable[[Message], None],
        max_queue: int = 10_000,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        rng: random.Random | None = None,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        connect_timeout: float = 2.0,
        write_timeout: float = 10.0,
        answer_timeout: float = ANSWER_TIMEOUT,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.node_id = node_id
        self.cluster_id = cluster_id
        self.incarnations: Incarnations | None = None
        self.on_report: Callable[[NodeId, Report], None] | None = None
        self.on_peer_gone: Callable[[NodeId], None] | None = None
        self._deliver = deliver
        self._max_queue = max_queue
        self._max_queue_bytes = max_queue_bytes
        self._max_frame_bytes = max_frame_bytes
        self._rng = rng if rng is not None else _RANDOM
        self._backoff = (backoff_base, backoff_cap)
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        self._answer_timeout = answer_timeout
        self.tls_context = tls
        """Dial peers over TLS with this context, and hear only peers that present their
        own node's certificate; None: plaintext."""
        # Our own entry may be in the map (the node passes the whole cluster); never dial it.
        self._peers = {
            peer: Outbox(peer, host, port)
            for peer, (host, port) in sorted(peers.items())
            if peer != node_id
        }
        self._inbound: dict[asyncio.StreamWriter, NodeId] = {}
        self._retired: set[asyncio.Task[None]] = set()
        """Writers of peers that left the configuration, cancelled and not yet ended."""
        self._started = False
        self._closed = False
        self._log = structlog.get_logger(__name__).bind(node_id=node_id)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start one writer task per peer; they connect in the background."""
        if self._started or self._closed:
            return
        self._started = True
        for peer in self._peers.values():
            self._dial(peer)

    def _dial(self, peer: Outbox) -> None:
        peer.task = asyncio.create_task(
            self._run_peer(peer), name=f"peer-writer-{self.node_id}-{peer.node_id}"
        )

    def set_peers(self, peers: Mapping[NodeId, tuple[str, int]]) -> None:
        """Follow a new configuration: dial the members new to it (or at a new address),
        stop writing to those that left it and close their inbound connections, so a removed
        node that still runs is heard no more (``_check_hello`` refuses it from now on)."""
        wanted = {node: address for node, address in peers.items() if node != self.node_id}
        for node, peer in list(self._peers.items()):
            if wanted.get(node) != (peer.host, peer.port):
                del self._peers[node]
                self._retire(peer)
        for writer, node in list(self._inbound.items()):
            if node not in wanted:
                writer.transport.abort()
        for node, (host, port) in sorted(wanted.items()):
            if node not in self._peers:
                peer = self._peers[node] = Outbox(node, host, port)
                if self._started and not self._closed:
                    self._dial(peer)
                self._log.info("peer_added", peer=node, host=host, port=port)

    def _retire(self, peer: Outbox) -> None:
        self._log.info("peer_removed", peer=peer.node_id)
        if peer.task is not None:
            peer.task.cancel()
            self._retired.add(peer.task)
            peer.task.add_done_callback(self._retired.discard)

    async def close(self) -> None:
        """Stop writers, close every connection, inbound too. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        tasks = [peer.task for peer in self._peers.values() if peer.task is not None]
        tasks += self._retired
        for task in tasks:
            task.cancel()
        for writer in list(self._inbound):
            writer.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._log.info("transport_closed")

    def stats(self) -> dict[NodeId, dict[str, int]]:
        """Per peer: messages sent, dropped, reconnect attempts, and currently queued."""
        return {
            peer.node_id: {
                "sent": peer.sent,
                "dropped": peer.dropped,
                "reconnects": peer.reconnects,
                "queued": len(peer.queue) + len(peer.urgent),
                "queued_bytes": peer.queued_bytes,
            }
            for peer in self._peers.values()
        }

    # -- outbound -------------------------------------------------------------------------------
    def send(self, messages: Iterable[Message]) -> None:
        """Queue messages for their peers without blocking; a full queue drops its oldest."""
        if self._closed:
            return
        for m in messages:
            peer = self._peers.get(m.dst)
            if peer is None:
                self._log.warning("message_to_unknown_peer", dst=m.dst, kind=m.TAG)
                continue
            peer.put(m, self._max_queue, self._max_queue_bytes)

    def report(self, report: Report) -> None:
        if self._closed:
            return
        body = pack_report(report)
        for peer in self._peers.values():
            peer.report = body
            peer.wakeup.set()

    async def _run_peer(self, peer: Outbox) -> None:
        """Connect, write until the connection fails, back off, repeat until cancelled."""
        log = self._log.bind(peer=peer.node_id)
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                await self._session(peer, log)
            except OSError as error:  # includes ConnectionError and TimeoutError
                self._log_failure(log, peer, attempt, error)
            except Exception:
                # A bug, not a peer fault: say so loudly, but keep the peer reachable.
                log.exception("peer_writer_failed")
            base, cap = self._backoff
            if peer.connected_at is not None and loop.time() - peer.connected_at >= cap:
                attempt = 0  # the connection was healthy for a while: start over from fast
            peer.connected_at = None
            await asyncio.sleep(backoff_delay(attempt, self._rng, base, cap))
            attempt += 1
            peer.reconnects += 1

    def _log_failure(
        self, log: structlog.typing.FilteringBoundLogger, peer: Outbox, attempt: int, error: OSError
    ) -> None:
        reason = str(error) or type(error).__name__
        new_reason, peer.last_failure = reason != peer.last_failure, reason
        if peer.connected_at is not None:
            log.warning("peer_disconnected", reason=reason)
        elif isinstance(error, ssl.SSLError | WrongPeer) and new_reason:
            # a peer that cannot prove who it is, or we to it: said once per reason, loudly
            log.warning("peer_connect_failed", reason=reason, attempt=attempt)
        elif attempt == 0 or new_reason:
            log.info("peer_connect_failed", reason=reason, attempt=attempt)
        else:
            log.debug("peer_connect_failed", reason=reason, attempt=attempt)

    async def _session(self, peer: Outbox, log: structlog.typing.FilteringBoundLogger) -> None:
        """One connection's life: hello, then every queued message in order, batch by batch."""
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_connection(
                peer.host,
                peer.port,
                ssl=self.tls_context,
                server_hostname=peer.host if self.tls_context else None,
            )
        presented = node_of(writer.get_extra_info("peercert"))
        if self.tls_context is not None and presented != peer.node_id:
            writer.transport.abort()
            raise WrongPeer(
                f"the certificate at {peer.host}:{peer.port} is not node {peer.node_id}'s"
            )
        # The far side never writes on this connection, so any read completing means it
        # closed (or broke) it; without this we would notice only on a later write.
        watcher = asyncio.create_task(
            self._watch(reader, peer.wakeup), name=f"peer-watcher-{self.node_id}-{peer.node_id}"
        )
        try:
            writer.write(encode_frame(self._hello(peer.node_id)))
            await self._drain(writer)
            peer.connected_at = asyncio.get_running_loop().time()
            log.info("peer_connected", host=peer.host, port=peer.port)
            loop = asyncio.get_running_loop()
            peer.unanswered_since = None
            while True:
                if watcher.done():
                    raise ConnectionResetError("peer closed the connection")
                deadline = self._answer_deadline(peer)
                if deadline is not None and loop.time() >= deadline:
                    raise ConnectionResetError(
                        f"no answer for {self._answer_timeout:.1f}s to what we sent"
                    )
                if not peer.queue and not peer.urgent and peer.report is None:
                    peer.wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout_at(deadline):
                            await peer.wakeup.wait()
                    continue
                frames = self._encode(peer, peer.next_slice(), log)
                if peer.report is not None:
                    frames.insert(0, encode_frame(peer.report))
                    peer.report = None
                writer.write(b"".join(frames))
                await self._drain(writer)
                await asyncio.sleep(0)  # the next slice waits for what the loop has to do
                peer.sent += len(frames)
                if peer.unanswered_since is None:
                    peer.unanswered_since = loop.time()
        finally:
            watcher.cancel()
            await asyncio.wait([watcher])  # unlike awaiting it, never swallows our own cancel
            # abort, not close: close would wait to flush to a peer that may never read.
            writer.transport.abort()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _answer_deadline(self, peer: Outbox) -> float | None:
        """Loop time at which the peer's silence ends this connection; None while nothing we
        sent waits for an answer."""
        if peer.unanswered_since is None:
            return None
        return peer.unanswered_since + self._answer_timeout

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        """Drain with a deadline, so a half-open connection cannot stall a peer forever."""
        async with asyncio.timeout(self._write_timeout):
            await writer.drain()

    @staticmethod
    async def _watch(reader: asyncio.StreamReader, wakeup: asyncio.Event) -> None:
        with contextlib.suppress(OSError):
            await reader.read(1)
        wakeup.set()

    def _encode(
        self, peer: Outbox, batch: list[Message], log: structlog.typing.FilteringBoundLogger
    ) -> list[bytes]:
        """One frame per message of ``batch`` (written as one buffer). A message that cannot be
        framed within the cap is dropped and counted: the peer would reject it, and
        reconnecting would not help."""
        frames: list[bytes] = []
        for m in batch:
            try:
                frame = encode_frame(pack_message(m))
            except (FrameError, TypeError, ValueError, OverflowError) as error:
                reason = str(error)
            else:
                if len(frame) - HEADER_BYTES <= self._max_frame_bytes:
                    frames.append(frame)
                    continue
                reason = f"frame of {len(frame) - HEADER_BYTES} bytes exceeds the cap"
            peer.dropped += 1
            log.warning("message_dropped", kind=m.TAG, reason=reason)
        return frames

    # -- inbound --------------------------------------------------------------------------------
    async def serve_peer(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        hello: Hello,
        decoder: FrameDecoder,
    ) -> None:
        """Deliver a peer's messages until it disconnects or misbehaves; never raises for
        anything the peer sent. Closes only this connection."""
        log = self._log.bind(peer=hello.node_id, remote=str(writer.get_extra_info("peername")))
        self._inbound[writer] = hello.node_id
        try:
            self._check_hello(hello, writer.get_extra_info("peercert"))
            log.info("peer_accepted")
            await self._read_messages(reader, decoder, hello.node_id)
            if decoder.buffered and not self._closed:
                raise FrameError(f"connection closed inside a frame ({decoder.buffered} bytes)")
            self._gone(hello.node_id)
        except FrameError as error:
            log.warning("frame_rejected", reason=error.reason)
        except OSError as error:
            log.info("peer_connection_lost", reason=str(error) or type(error).__name__)
            self._gone(hello.node_id)
        finally:
            self._inbound.pop(writer, None)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _gone(self, peer: NodeId) -> None:
        if not self._closed and self.on_peer_gone is not None:
            self.on_peer_gone(peer)

    def _hello(self, peer: NodeId) -> list[object]:
        stores = self.incarnations
        if stores is None:
            return hello(self.cluster_id, "peer", self.node_id)
        own, yours = stores.own, stores.yours(peer)
        return hello(self.cluster_id, "peer", self.node_id, incarnation=own, yours=yours)

    def _check_hello(self, hello: Hello, peercert: dict[str, Any] | None) -> None:
        if self._closed:
            raise FrameError("transport is closed")
        if hello.role != "peer":
            raise FrameError(f"expected a peer hello, got role {hello.role!r}")
        check_peer(hello, self.cluster_id)
        if self.tls_context is not None and node_of(peercert) != hello.node_id:
            raise FrameError(
                f"a peer said it is node {hello.node_id} without node {hello.node_id}'s certificate"
            )
        if hello.node_id not in self._peers:
            raise FrameError(f"node {hello.node_id} is not a peer of this cluster")
        if self.incarnations is not None:
            self.incarnations.admit(hello)

    async def _read_messages(
        self, reader: asyncio.StreamReader, decoder: FrameDecoder, src: NodeId
    ) -> None:
        """Decode and deliver in arrival order; the hello fixed who may speak here."""
        while not self._closed and (data := await reader.read(READ_CHUNK)):
            for body in decoder.feed(data):
                if is_report(body):
                    if self.on_report is not None:
                        self.on_report(src, unpack_report(body))
                    continue
                m = unpack_message(body)
                if m.src != src:
                    raise FrameError(f"message from {m.src} on node {src}'s connection")
                if m.dst != self.node_id:
                    raise FrameError(f"message for node {m.dst} sent to node {self.node_id}")
                if self._closed:
                    return
                self._deliver(m)
            peer = self._peers.get(src)
            if peer is not None:
                peer.unanswered_since = None


Deliver = Callable[[Message], None]
TransportFactory = Callable[[NodeConfig, Deliver], Transport]
"""Builds a node's transport from its config and the callback that steps peers' messages."""


def peer_transport(config: NodeConfig, deliver: Deliver) -> Transport:
    """TCP to every other node of ``config.addresses``: what a node process uses."""
    peers = {node: addr for node, addr in config.addresses.items() if node != config.node_id}
    return PeerTransport(
        node_id=config.node_id,
        cluster_id=config.cluster_id or "",
        peers=peers,
        deliver=deliver,
        tls=client_context(config.tls) if config.tls is not None else None,
    )
