"""One connection from a client to a node: calls by id, appends coalesced per loop turn into one
``append_batch`` frame, pushed streams with a bounded buffer. It knows the frames, not the
policy: any failure reaches its callers as ``Retry``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import ssl
from typing import Any

from eventlog.client.policy import Retry
from eventlog.errors import AuthenticationFailed, FrameError, TLSError, WrongCluster
from eventlog.protocol.addresses import split_address
from eventlog.protocol.answers import unpack_error
from eventlog.protocol.frames import FrameDecoder, encode_frame
from eventlog.protocol.hello import NodeHello, hello, parse_node_hello
from eventlog.protocol.requests import APPENDS_PER_SLICE
from eventlog.protocol.streams import FrameWriter
from eventlog.security.identity import node_of

__all__ = [
    "DIAL_TIMEOUT",
    "Connection",
    "dial",
    "parse_answer",
    "spread",
]

DIAL_TIMEOUT = 2.0
"""Seconds one connection attempt may take, at most (the call's deadline may cut it shorter)."""


async def dial(
    address: str,
    cluster_id: str | None,
    timeout: float,
    tls: ssl.SSLContext | None = None,
    credentials: tuple[str, str] | None = None,
) -> Connection:
    """Connect to ``address`` (over TLS with a context: the node's certificate must be a
    node's of the cluster's CA) and say hello as a client of ``cluster_id`` (None: of whatever
    cluster the node belongs to, which its answering hello tells), signing in with
    ``credentials`` if given (``AsyncClient`` takes them only with TLS)."""
    host, port = split_address(address)
    try:
        async with asyncio.timeout(max(0.001, min(DIAL_TIMEOUT, timeout))):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls, server_hostname=host if tls is not None else None
            )
    except ssl.SSLError as error:
        raise _tls_error(address, error) from None
    if tls is not None and node_of(writer.get_extra_info("peercert")) is None:
        writer.transport.abort()
        raise TLSError(f"{address} presented a certificate of the CA that is no node's")
    writer.write(encode_frame(hello(cluster_id or "", "client", 0, credentials=credentials)))
    return Connection(address, reader, writer)


def _tls_error(address: str, error: ssl.SSLError) -> TLSError:
    reason = getattr(error, "reason", None) or str(error)
    if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"):
        return TLSError(
            f"the node at {address} does not speak TLS (it runs --insecure): connect without tls"
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        return TLSError(
            f"the certificate of the node at {address} does not verify against the CA given: "
            f"{error.verify_message}"
        )
    return TLSError(f"TLS with the node at {address} failed: {reason}")


async def requires_tls(address: str, timeout: float) -> bool:
    """Does the node at ``address`` speak TLS? Asked when a plaintext connection ended before
    the node said anything (what a TLS port does with a plaintext hello): one handshake,
    trusting nothing and sending nothing, only to name the mistake."""
    host, port = split_address(address)
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port, ssl=probe)
    except (OSError, TimeoutError):
        return False
    writer.transport.abort()
    return True


class Connection:
    """One connection to a node: calls by id, appends coalesced per loop turn, pushed streams."""

    def __init__(self, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.address, self.reader, self.writer = address, reader, writer
        self.calls: dict[int, asyncio.Future[Any]] = {}
        self.streams: dict[int, asyncio.Queue[Any]] = {}
        self.ids = itertools.count(1)
        self.appends: list[tuple[Any, asyncio.Future[Any]]] = []
        self.frames = FrameWriter(writer)
        self.node: NodeHello | None = None
        """The node's answering hello, once it came: its cluster, its members, its limit."""
        self.greeted = asyncio.Event()
        """Set once the hello came, or the connection ended without one."""
        self.ended: Exception | None = None
        """Why the connection ended, once it did (what its calls in flight were failed with)."""
        self.retiring = False
        """Retired: it answers the calls in flight and takes no more (``retire``)."""
        self.heard = False
        """Any byte came from the node on this connection."""
        self.heard_at = asyncio.get_running_loop().time()
        """Loop time bytes last came from the node: a call that timed out while others were
        answered timed out for its own reason, and the connection stays."""
        self.reader_task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        decoder = FrameDecoder()
        failure: Exception = Retry("connection closed")
        try:
            while data := await self.reader.read(1 << 16):
                self.heard_at = asyncio.get_running_loop().time()
                self.heard = True
                for frame in decoder.feed(data):
                    await self._receive(frame)
        except (ConnectionError, FrameError, OSError) as error:
            failure = Retry(str(error))
        except (WrongCluster, AuthenticationFailed) as refused:  # no retry can help
            failure = refused
        finally:
            self.ended = failure
            self.greeted.set()
            for future in self.calls.values():
                if not future.done():
                    future.set_exception(failure)
            for queue in self.streams.values():
                while queue.full():  # the consumer must see the failure after what it has
                    queue.get_nowait()
                queue.put_nowait(failure)

    async def _receive(self, frame: Any) -> None:
        if self.node is None and isinstance(frame, list) and frame[:1] == ["hello"]:
            self.node = parse_node_hello(frame)
            self.greeted.set()
            return
        call_id, kind, payload = parse_answer(frame)
        if call_id == 0 and kind == "error":  # about the connection itself
            refused = unpack_error(payload)
            if isinstance(refused, WrongCluster | AuthenticationFailed):
                raise refused
            raise Retry(str(refused))
        stream = self.streams.get(call_id)
        if kind in ("events", "page", "chunk") and stream is not None:
            # Waits while the subscriber is behind: we stop reading, the socket fills, and
            # the node's pushes wait on TCP (flow control).
            await stream.put(payload)
        else:
            self._dispatch(call_id, kind, payload)

    def _dispatch(self, call_id: Any, kind: Any, payload: Any) -> None:
        future = self.calls.pop(call_id, None)
        if future is not None and not future.done():
            future.set_result((kind, payload))
        if self.retiring:
            self.close_if_idle()
        queue = self.streams.get(call_id)
        if queue is not None:
            queue.put_nowait((kind, payload))

    def call(self, op: str, args: dict[str, Any]) -> asyncio.Future[Any]:
        """Send one call; the future gets ``(kind, payload)`` of its answer. Appends made in
        one turn of the loop travel in ``append_batch`` frames of at most ``APPENDS_PER_SLICE``
        each, and each frame is answered in one."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if op == "append":
            self.appends.append((args["request"], future))
            if len(self.appends) == 1:
                loop.call_soon(self._send_appends)
            return future
        call_id = next(self.ids)
        self.calls[call_id] = future
        self.frames.send([call_id, op, args])
        return future

    def _send_appends(self) -> None:
        appends, self.appends = self.appends, []
        if self.reader_task.done():
            for _, future in appends:
                if not future.done():
                    future.set_exception(Retry("connection closed"))
            return
        for start in range(0, len(appends), APPENDS_PER_SLICE):
            self._send_append_frame(appends[start : start + APPENDS_PER_SLICE])

    def _send_append_frame(self, appends: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        call_id = next(self.ids)
        if len(appends) == 1:
            [(request, future)] = appends
            self.calls[call_id] = future
            self.frames.send([call_id, "append", {"request": request}])
            return
        batch: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.calls[call_id] = batch
        batch.add_done_callback(functools.partial(spread, [f for _, f in appends]))
        self.frames.send([call_id, "append_batch", {"requests": [r for r, _ in appends]}])

    def open_stream(self, op: str, args: dict[str, Any], buffer: int) -> asyncio.Queue[Any]:
        """Start a pushed stream; its items wait in a queue of ``buffer`` batches. Meant for a
        connection of its own, since a full queue stops reading the whole connection."""
        call_id = next(self.ids)
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=buffer)
        self.streams[call_id] = queue
        self.frames.send([call_id, op, args])
        return queue

    def retire(self, grace: float) -> None:
        """Take no new calls, and close once every call in flight has its answer (or gave
        up waiting), at most ``grace`` seconds from now: moving to another node fails none of
        the calls this one is still answering."""
        self.retiring = True
        asyncio.get_running_loop().call_later(grace, self.writer.close)
        self.close_if_idle()

    def close_if_idle(self) -> None:
        waiting = any(not future.done() for future in self.calls.values())
        if not waiting and not self.appends and not self.streams:
            self.writer.close()

    async def close(self) -> None:
        self.reader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader_task
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def parse_answer(frame: Any) -> tuple[int, str, Any]:
    """``[call_id, kind, payload]``; anything else from a node is a protocol error."""
    if not isinstance(frame, list) or len(frame) != 3 or not isinstance(frame[0], int):
        raise FrameError(f"not an answer frame: {frame!r:.80}")
    return frame[0], str(frame[1]), frame[2]


def spread(futures: list[asyncio.Future[Any]], batch: asyncio.Future[Any]) -> None:
    """Hand each call of an ``append_batch`` its own reply (or the batch's failure)."""
    if batch.cancelled():
        return
    error = batch.exception()
    replies: list[Any] | None = None
    if error is None:
        kind, payload = batch.result()
        if kind == "ok" and isinstance(payload, list) and len(payload) == len(futures):
            replies = [tuple(reply) for reply in payload]
        else:
            replies = [(kind, payload)] * len(futures)
    for slot, future in enumerate(futures):
        if future.done():
            continue
        if replies is None:
            future.set_exception(error or Retry("append batch failed"))
        else:
            future.set_result(replies[slot])
