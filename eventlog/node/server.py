"""Serving one node's port: Raft peers and clients share it; the hello frame says which is which.

Client calls are frames ``[call_id, op, args]``; answers are ``[call_id, "ok", payload]`` or
``[call_id, "error", {"code": ..., ...}]``. Each call runs as its own task, so one connection
may pipeline many appends. A malformed frame closes that connection only.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import structlog

from eventlog.errors import (
    AuthenticationFailed,
    CorruptRecord,
    EventLogError,
    FrameError,
    InvalidRequest,
    NotLeader,
    Unavailable,
    WrongCluster,
)
from eventlog.node import access_calls, copy_calls, member_calls, read_calls
from eventlog.node.auth import Authenticator, check_request_allowed
from eventlog.node.node import Node
from eventlog.protocol import answers, requests
from eventlog.protocol.frames import FrameDecoder, encode_frame
from eventlog.protocol.hello import Hello, check_client, check_peer, node_hello
from eventlog.protocol.requests import APPENDS_PER_SLICE, MAX_APPENDS_PER_FRAME
from eventlog.protocol.streams import FrameWriter, PlaintextPort, read_hello
from eventlog.records import AppendResult, LeaseGrant
from eventlog.security.permissions import Action
from eventlog.security.principal import Principal
from eventlog.security.tls import reload, server_context
from eventlog.state.outcomes import Outcome

__all__ = [
    "HANDLERS",
    "HELLO_TIMEOUT",
    "ClientSession",
    "Handler",
    "Server",
]

HELLO_TIMEOUT = 5.0

READ_ON_LOOP_EVENTS = 256
"""Events a node reads (and packs) on its loop for one answer, at most, a few milliseconds;
a longer read runs in the reader thread, so that a page of 10,000 events (tens of
milliseconds) never holds up heartbeats. LMDB reads run in any thread beside the writer."""

Handler = Callable[["ClientSession", int, dict[str, Any]], Awaitable[Any]]
Needs = Action | None
"""What a call needs of its caller: an action on the whole log or the cluster, or None
where the handler checks an action on the names it touches itself."""
T = TypeVar("T")


class Server:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.logger = structlog.get_logger(__name__).bind(node_id=node.config.node_id)
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._closing = False
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storage-reader")
        """One thread: long reads take turns, and the loop competes with one thread for the
        interpreter, not with one per reader."""
        self.copier = copy_calls.Copier()
        config = node.config
        self.auth = Authenticator(
            config.node_id, config.tls is not None, config.admin_password_hash
        )
        self.tls_context: ssl.SSLContext | None = None
        """The listening port's TLS, once started; ``reload_tls`` loads its files again."""

    async def start(self) -> None:
        host, port = self.node.config.addresses[self.node.config.node_id]
        tls = self.node.config.tls
        context = self.tls_context = server_context(tls) if tls is not None else None
        self._server = await asyncio.start_server(
            self._accept,
            host,
            port,
            reuse_address=True,
            ssl=context,
            ssl_handshake_timeout=HELLO_TIMEOUT if context is not None else None,
        )
        self.logger.info("listening", host=host, port=port, tls=context is not None)

    def reload_tls(self) -> None:
        """Load the TLS files again (rotated certificates): connections from now on use them,
        on the listening port and to peers. ``ConfigError`` if they do not load; the ones in
        use stay."""
        tls = self.node.config.tls
        if tls is None:
            return
        for context in (self.tls_context, self.node.transport.tls_context):
            if context is not None:
                reload(context, tls)
        self.logger.info("tls_reloaded", ca=tls.ca, cert=tls.cert)

    async def close(self) -> None:
        """Stop accepting, then end every connection by closing its socket, so each handler
        returns as from a peer hanging up (cancelling them instead trips Python 3.11's stream
        callbacks into logging a traceback per connection)."""
        self._closing = True
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in self._connections.values():
            writer.transport.abort()
        if self._connections:
            _, stuck = await asyncio.wait(list(self._connections), timeout=HELLO_TIMEOUT)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        # A read may still run in the reader thread: the store must not close under it.
        await asyncio.to_thread(self.reader.shutdown, True, cancel_futures=True)
        await asyncio.to_thread(self.copier.close)
        self.auth.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        peer = writer.get_extra_info("peername")
        decoder = FrameDecoder()
        try:
            caller = await read_hello(reader, decoder, HELLO_TIMEOUT)
            ours = self.node.cluster_id
            if caller.role == "peer":
                check_peer(caller, ours)
                await self.node.transport.serve_peer(reader, writer, caller, decoder)
            elif principal := await self._welcome(caller, ours, writer):
                await ClientSession(self.node, reader, writer, decoder, self, principal).run()
        except PlaintextPort as error:
            self.logger.warning("tls_client_refused", peer=str(peer), reason=str(error))
            await _answer_in_plaintext(reader, writer)
        except (FrameError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as error:
            if not self._closing:
                self.logger.warning("connection_closed", peer=str(peer), reason=str(error))
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _welcome(
        self, caller: Hello, ours: str, writer: asyncio.StreamWriter
    ) -> Principal | None:
        """Sign the client in and answer its hello with ours, so it learns (or checks) its
        cluster; or tell a client of another cluster, or one that cannot sign in, so (on
        call id 0) before closing."""
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        try:
            check_client(caller, ours)
            principal = await self.auth.sign_in(
                caller, writer.get_extra_info("peercert"), source, self.node.storage.access
            )
        except (WrongCluster, AuthenticationFailed) as refused:
            writer.write(encode_frame([0, "error", answers.pack_error(refused)]))
            if isinstance(refused, WrongCluster):
                self.logger.warning("client_of_another_cluster", cluster_id=caller.cluster_id[:40])
            else:
                self.logger.info("client_refused", source=source, reason=refused.reason)
            return None
        members = [
            f"{host}:{port}" for _, (host, port) in sorted(self.node.members.addresses.items())
        ]
        limit = self.node.config.max_append_bytes
        writer.write(encode_frame(node_hello(ours, self.node.config.node_id, members, limit)))
        return principal


class ClientSession:
    def __init__(
        self,
        node: Node,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        decoder: FrameDecoder,
        server: Server,
        principal: Principal,
    ) -> None:
        self.node, self.reader, self.writer, self.decoder = node, reader, writer, decoder
        self.principal = principal
        """Who signed in on this connection; every call is checked against its permissions
        in the auth store as it stands when the call comes."""
        self.auth = server.auth
        self.long_reads = server.reader
        self.copier = server.copier
        self.frames = FrameWriter(writer)
        self.tasks: set[asyncio.Task[None]] = set()
        self.subscriptions = 0

    async def run(self) -> None:
        try:
            while data := await self.reader.read(1 << 16):
                appended = False
                for frame in self.decoder.feed(data):
                    call_id, op, args = _parse_call(frame)
                    if op in ("append", "lease"):
                        self._append(call_id, args)
                        appended = True
                    elif op == "append_batch":
                        await self._append_batch(call_id, args)
                        appended = True
                    else:
                        task = asyncio.create_task(self._call(call_id, op, args))
                        self.tasks.add(task)
                        task.add_done_callback(self.tasks.discard)
                # Backpressure: read no more calls while answers are piling up unread.
                await self.drain()
                if appended:  # a chunk holds a few hundred appends at most
                    await _breathe()
        finally:
            for task in list(self.tasks):
                task.cancel()

    def send(self, body: Any) -> None:
        self.frames.send(body)

    def _allowed(self, fields: list[Any]) -> None:
        """An append's or a lease's permissions, checked by the leader (a follower redirects
        first: a user granted a moment ago is not refused by a member that lags)."""
        check_request_allowed(self.principal, self.node.storage.access, fields)

    def allow(self, action: Action, name: str | None = None) -> None:
        """``PermissionDenied`` (or ``AuthenticationFailed``, for a user since removed)
        unless the caller may do ``action`` on ``name`` (None: the whole log, the cluster)."""
        self.principal.check(self.node.storage.access, action, name)

    async def read(self, events: int, read: Callable[[], T]) -> T:
        """``read()`` on the loop if it reads at most ``READ_ON_LOOP_EVENTS`` events, else
        in the reader thread."""
        if events <= READ_ON_LOOP_EVENTS:
            return read()
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.long_reads, functools.partial(context.run, read))

    async def drain(self) -> None:
        """Write what is queued now and wait while the socket's buffer is above its mark."""
        self.frames.flush()
        await self.writer.drain()

    # -- appends: most of the traffic, so no task per call; answered from future callbacks --
    def _append(self, call_id: int, args: dict[str, Any]) -> None:
        self._submit(args.get("request"), lambda reply: self.send([call_id, *reply]))

    async def _append_batch(self, call_id: int, args: dict[str, Any]) -> None:
        """Several independent appends in one frame (a client coalesces the calls made in one
        turn of its loop); one answer frame with a reply per request, in order. Checked in
        slices of ``APPENDS_PER_SLICE``, the loop breathing between them."""
        requests = args.get("requests")
        if not isinstance(requests, list) or not 0 < len(requests) <= MAX_APPENDS_PER_FRAME:
            message = f"requests must be a list of 1..{MAX_APPENDS_PER_FRAME} append requests"
            self.send([call_id, "error", answers.pack_error(InvalidRequest(message))])
            return
        replies: list[list[Any] | None] = [None] * len(requests)
        remaining = len(requests)

        def answer(slot: int, reply: list[Any]) -> None:
            nonlocal remaining
            replies[slot] = reply
            remaining -= 1
            if remaining == 0:
                self.send([call_id, "ok", replies])

        for slot, request in enumerate(requests):
            if slot and slot % APPENDS_PER_SLICE == 0:
                await _breathe()
            self._submit(request, functools.partial(answer, slot))

    def _submit(self, raw: Any, reply: Callable[[list[Any]], None]) -> None:
        try:
            request = requests.check_client_request(raw)
            self.node.submit(
                request, lambda answer: reply(self._append_reply(answer)), self._allowed
            )
        except EventLogError as error:
            reply(["error", self._error_body(error)])

    def _append_reply(self, answer: Outcome | EventLogError) -> list[Any]:
        if isinstance(answer, EventLogError):
            return ["error", self._error_body(answer)]
        if answer.error is not None:
            return ["error", self._error_body(answer.error)]
        result = answer.result
        assert isinstance(result, AppendResult | LeaseGrant), "a client's request"
        return ["ok", answers.pack_outcome_result(result)]

    async def _call(self, call_id: int, op: str, args: dict[str, Any]) -> None:
        try:
            if op not in HANDLERS:
                raise InvalidRequest(f"unknown operation {op!r:.40}")
            handler, needs = HANDLERS[op]
            if needs is not None:
                self.allow(needs)
            payload = await handler(self, call_id, args)
            self.send([call_id, "ok", payload])
        except CorruptRecord as error:  # this node's store: never serve it again
            self.node.fail(error)
            self.send([call_id, "error", answers.pack_error(self.node.health.unavailable())])
        except EventLogError as error:
            self.send([call_id, "error", self._error_body(error)])
        except (KeyError, TypeError, ValueError, OverflowError) as error:
            invalid = InvalidRequest(f"bad arguments: {error}")
            self.send([call_id, "error", answers.pack_error(invalid)])
        except Exception as error:  # a bug: the caller still hears, and the log says where
            self.node.logger.error("call_failed", op=op, exc_info=error)
            failed = Unavailable(f"{op} failed on node {self.node.config.node_id}: {error!r:.200}")
            self.send([call_id, "error", answers.pack_error(failed)])
        with contextlib.suppress(ConnectionError):
            await self.drain()

    def _error_body(self, error: EventLogError) -> dict[str, Any]:
        if isinstance(error, NotLeader):  # say where the leader is, as this node knows it
            leader, address = self.node.leader_address()
            where = f"{address[0]}:{address[1]}" if address else None
            error = NotLeader(error.node_id, leader or None, where)
        return answers.pack_error(error)


async def _answer_in_plaintext(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read what the TLS client sent (its hello), so that closing does not reset the
    connection first, and answer in plaintext: its TLS then reports a protocol mismatch
    rather than a reset."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(0.5):
            await reader.read(1 << 16)
        writer.write(encode_frame([0, "error", answers.pack_error(Unavailable("no TLS here"))]))
        await writer.drain()


async def _breathe() -> None:
    """Let the loop run what waits (peer messages, ticks, other connections) before checking
    more appends: a node's heartbeats never wait behind a client's burst."""
    await asyncio.sleep(0)


def _parse_call(frame: Any) -> tuple[int, str, dict[str, Any]]:
    if (
        not isinstance(frame, list)
        or len(frame) != 3
        or not isinstance(frame[0], int)
        or not isinstance(frame[1], str)
        or not isinstance(frame[2], dict)
    ):
        raise FrameError("a client call is [call_id, op, args]")
    return frame[0], frame[1], frame[2]


HANDLERS: dict[str, tuple[Handler, Needs]] = {
    "read_all": (read_calls.read_all, None),
    "read_page": (read_calls.read_page, None),
    "read_stream": (read_calls.read_stream, None),
    "read_stream_backwards": (read_calls.read_stream_backwards, None),
    "subscribe": (read_calls.subscribe, None),
    "head": (read_calls.head, None),
    "status": (read_calls.status, Action.STATUS),
    "leases": (read_calls.leases, None),
    "tracking": (read_calls.tracking, None),
    "members": (member_calls.list_members, Action.MEMBERS),
    "change_member": (member_calls.change_member, Action.CHANGE_MEMBERS),
    "copy": (copy_calls.send_copy, Action.BACKUP),
    "base_configuration": (member_calls.base_configuration, Action.MEMBERS),
    "access": (access_calls.list_access, Action.MANAGE_USERS),
    "change_access": (access_calls.change_access, Action.MANAGE_USERS),
    "whoami": (access_calls.whoami, None),
}
"""Every call a client may make, and what it needs (``append`` and ``lease`` are checked
per stream and per lease name as they come, in ``check_request_allowed``; reads and
subscriptions per stream, or per prefix of their filter, in ``read_calls``)."""
