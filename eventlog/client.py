"""``AsyncClient`` and ``Client``: leader discovery, redirects, retries within one deadline.

A call is retried (on a refused connection, a redirect, a leader election in progress) until its
deadline; appends carry a request id chosen once per call, so a retry never appends twice.
Users never see a redirect, only the typed errors of the contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import random
import threading
from collections.abc import AsyncGenerator, Coroutine, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from eventlog.errors import (
    EventLogError,
    FrameError,
    InvalidRequest,
    LeaseHeld,
    Unavailable,
    WrongExpectedVersion,
)
from eventlog.protocol import answers, requests
from eventlog.protocol.frames import FrameDecoder, encode_frame
from eventlog.protocol.framewriter import FrameWriter
from eventlog.protocol.hello import hello
from eventlog.records import ANY, AppendResult, LeaseGrant, NewEvent, RecordedEvent

DEFAULT_CLUSTER_ID = "eventraft"
SUBSCRIPTION_BUFFER = 8
"""Batches a subscription holds for its consumer before it stops reading the socket."""
T = TypeVar("T")


def parse_addresses(addresses: str | Sequence[str]) -> list[str]:
    items = addresses.split(",") if isinstance(addresses, str) else list(addresses)
    parsed = [item.strip() for item in items if item.strip()]
    if not parsed:
        raise InvalidRequest("no address given")
    for item in parsed:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidRequest(f"bad address {item!r}: expected HOST:PORT")
    return parsed


class _Retry(Exception):
    """Try again (elsewhere, after a pause) while the deadline allows."""

    def __init__(self, reason: str, address: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.address = reason, address


class _Connection:
    def __init__(self, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.address, self.reader, self.writer = address, reader, writer
        self.calls: dict[int, asyncio.Future[Any]] = {}
        self.streams: dict[int, asyncio.Queue[Any]] = {}
        self.ids = itertools.count(1)
        self.appends: list[tuple[Any, asyncio.Future[Any]]] = []
        self.frames = FrameWriter(writer)
        self.reader_task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        decoder = FrameDecoder()
        error: Exception = ConnectionError("connection closed")
        try:
            while data := await self.reader.read(1 << 16):
                for frame in decoder.feed(data):
                    call_id, kind, payload = _parse_answer(frame)
                    stream = self.streams.get(call_id)
                    if kind == "events" and stream is not None:
                        # Waits while the subscriber is behind: we stop reading, the socket
                        # fills, and the node's pushes wait on TCP (flow control).
                        await stream.put(payload)
                    else:
                        self._dispatch(call_id, kind, payload)
        except (ConnectionError, FrameError, OSError) as exc:
            error = exc
        finally:
            for future in self.calls.values():
                if not future.done():
                    future.set_exception(_Retry(str(error)))
            for queue in self.streams.values():
                while queue.full():  # the consumer must see the failure after what it has
                    queue.get_nowait()
                queue.put_nowait(_Retry(str(error)))

    def _dispatch(self, call_id: Any, kind: Any, payload: Any) -> None:
        future = self.calls.pop(call_id, None)
        if future is not None and not future.done():
            future.set_result((kind, payload))
        queue = self.streams.get(call_id)
        if queue is not None:
            queue.put_nowait((kind, payload))

    def call(self, op: str, args: dict[str, Any]) -> asyncio.Future[Any]:
        """Send one call; the future gets ``(kind, payload)`` of its answer. Appends made in
        one turn of the loop travel in one ``append_batch`` frame and are answered in one."""
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
                    future.set_exception(_Retry("connection closed"))
            return
        call_id = next(self.ids)
        if len(appends) == 1:
            [(request, future)] = appends
            self.calls[call_id] = future
            self.frames.send([call_id, "append", {"request": request}])
            return
        batch: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.calls[call_id] = batch
        batch.add_done_callback(functools.partial(_spread, [f for _, f in appends]))
        self.frames.send([call_id, "append_batch", {"requests": [r for r, _ in appends]}])

    def open_stream(self, op: str, args: dict[str, Any], buffer: int) -> asyncio.Queue[Any]:
        """Start a pushed stream; its items wait in a queue of ``buffer`` batches. Meant for a
        connection of its own, since a full queue stops reading the whole connection."""
        call_id = next(self.ids)
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=buffer)
        self.streams[call_id] = queue
        self.frames.send([call_id, op, args])
        return queue

    async def close(self) -> None:
        self.reader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader_task
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def _parse_answer(frame: Any) -> tuple[int, str, Any]:
    """``[call_id, kind, payload]``; anything else from a node is a protocol error."""
    if not isinstance(frame, list) or len(frame) != 3 or not isinstance(frame[0], int):
        raise FrameError(f"not an answer frame: {frame!r:.80}")
    return frame[0], str(frame[1]), frame[2]


def _spread(futures: list[asyncio.Future[Any]], batch: asyncio.Future[Any]) -> None:
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
            future.set_exception(error or _Retry("append batch failed"))
        else:
            future.set_result(replies[slot])


class AsyncClient:
    def __init__(
        self,
        addresses: str | Sequence[str],
        timeout: float = 10.0,
        *,
        cluster_id: str = DEFAULT_CLUSTER_ID,
    ) -> None:
        self.addresses = parse_addresses(addresses)
        self.timeout, self.cluster_id = timeout, cluster_id
        self._target = self.addresses[0]
        self._connection: _Connection | None = None
        self._rng = random.Random()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    # -- the contract --------------------------------------------------------------------------
    async def append(
        self,
        stream: str,
        events: Iterable[NewEvent],
        expected_version: int = ANY,
        *,
        request_id: bytes | None = None,
    ) -> AppendResult:
        return await self.append_multi([(stream, events, expected_version)], request_id=request_id)

    async def append_multi(
        self,
        appends: Iterable[tuple[str, Iterable[NewEvent], int]],
        *,
        request_id: bytes | None = None,
    ) -> AppendResult:
        """Append to several streams atomically, each with its own expected version."""
        request = requests.new_request(appends, request_id)
        payload = await self._call("append", {"request": request.fields})
        return answers.unpack_result(payload)

    async def read_stream(
        self,
        stream: str,
        from_version: int = 1,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        args = {"stream": stream, "from_version": from_version, "limit": limit}
        return await self._read("read_stream", args, min_position)

    async def read_stream_backwards(
        self,
        stream: str,
        from_version: int | None = None,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        """Events of ``stream`` newest first, from ``from_version`` (None: its last event)."""
        args = {"stream": stream, "from_version": from_version, "limit": limit}
        return await self._read("read_stream_backwards", args, min_position)

    async def read_all(
        self, from_position: int = 1, limit: int | None = None, *, min_position: int | None = None
    ) -> list[RecordedEvent]:
        args = {"from_position": from_position, "limit": limit}
        return await self._read("read_all", args, min_position)

    async def subscribe(self, from_position: int = 1) -> AsyncGenerator[RecordedEvent, None]:
        """Committed events from ``from_position`` on, live. Each attempt has a connection of
        its own, so a slow consumer slows only its own stream (TCP flow control); a failed
        one resumes after the last event yielded, from the next address."""
        position = from_position
        while True:
            connection: _Connection | None = None
            try:
                deadline = asyncio.get_running_loop().time() + self.timeout
                connection = await self._dial(self._target, deadline)
                args = {"from_position": position}
                queue = connection.open_stream("subscribe", args, SUBSCRIPTION_BUFFER)
                while True:
                    item = await queue.get()
                    if isinstance(item, _Retry):
                        raise item
                    if isinstance(item, tuple):  # an answer instead of events: an error
                        kind, payload = item
                        self._answer(kind, payload, follow_leader=False)
                        raise _Retry(f"subscription ended: {payload!r}")
                    for raw in item:
                        event = answers.unpack_event(raw)
                        position = event.position + 1
                        yield event
            except (_Retry, Unavailable, OSError):
                self._rotate()
                await asyncio.sleep(self._rng.uniform(0.05, 0.3))
            finally:
                if connection is not None:
                    await connection.close()

    async def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant:
        """Grant or renew the lease ``name`` to ``owner`` for ``ttl`` seconds of the cluster's
        clock, recording ``checkpoint``; raises ``LeaseHeld`` while another owner holds it."""
        ttl_ms = max(1, int(ttl * 1000))
        request = requests.new_lease_request(
            requests.LEASE_ACQUIRE, name, owner, ttl_ms, checkpoint
        )
        return answers.unpack_lease(await self._call("lease", {"request": request.fields}))

    async def release_lease(self, name: str, owner: str, token: int) -> None:
        """Give the lease up now, if ``owner`` still holds it with ``token``."""
        request = requests.new_lease_request(requests.LEASE_RELEASE, name, owner, 1, token)
        await self._call("lease", {"request": request.fields})

    async def leases(self) -> list[LeaseGrant]:
        """Every lease granted and not released (expired ones too), by name."""
        payload = await self._call("leases", {})
        return [answers.unpack_lease(raw) for raw in payload]

    async def status(self) -> dict[str, Any]:
        """The status of whichever node this client is connected to."""
        result: dict[str, Any] = await self._call("status", {}, follow_leader=False)
        return result

    # -- calls, redirects and retries ------------------------------------------------------------
    async def _read(
        self, op: str, args: dict[str, Any], min_position: int | None
    ) -> list[RecordedEvent]:
        if min_position is not None:
            args["min_position"] = min_position
        payload = await self._call(op, args, follow_leader=min_position is None)
        return [answers.unpack_event(raw) for raw in payload]

    async def _call(self, op: str, args: dict[str, Any], *, follow_leader: bool = True) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        backoff = 0.02
        last = "no attempt"
        while loop.time() < deadline:
            try:
                connection = await self._connect(deadline)
                kind, payload = await asyncio.wait_for(
                    connection.call(op, args), max(0.001, deadline - loop.time())
                )
                return self._answer(kind, payload, follow_leader)
            except _Retry as retry:
                last = retry.reason
                if retry.address is not None:
                    await self._switch(retry.address)
                    continue
                await self._drop_connection(rotate=True)
            except (OSError, TimeoutError) as error:
                last = str(error) or type(error).__name__
                await self._drop_connection(rotate=True)
            await asyncio.sleep(min(backoff, max(0.0, deadline - loop.time())) * self._rng.random())
            backoff = min(backoff * 2, 0.5)
        raise Unavailable(f"{op} did not complete within {self.timeout}s (last: {last})")

    def _answer(self, kind: str, payload: Any, follow_leader: bool) -> Any:
        if kind == "ok":
            return payload
        code = payload.get("code")
        if code == "not_leader":
            address = payload.get("address") if follow_leader else None
            raise _Retry("not the leader", address)
        if code == "wrong_expected_version":
            raise WrongExpectedVersion(payload["stream"], payload["expected"], payload["actual"])
        if code == "lease_held":
            raise LeaseHeld(payload["name"], payload["owner"], payload["expires_ms"])
        if code == "invalid":
            raise InvalidRequest(payload.get("message", "invalid request"))
        raise _Retry(str(payload.get("message", code)))

    async def _connect(self, deadline: float) -> _Connection:
        if self._connection is not None and not self._connection.reader_task.done():
            return self._connection
        await self._drop_connection()
        self._connection = await self._dial(self._target, deadline)
        return self._connection

    async def _dial(self, address: str, deadline: float) -> _Connection:
        host, _, port = address.rpartition(":")
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, int(port)), max(0.001, min(2.0, deadline - loop.time()))
        )
        writer.write(encode_frame(hello(self.cluster_id, "client", 0)))
        return _Connection(address, reader, writer)

    async def _switch(self, address: str) -> None:
        if address != self._target:
            await self._drop_connection()
            self._target = address

    async def _drop_connection(self, *, rotate: bool = False) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        if rotate:
            self._rotate()

    def _rotate(self) -> None:
        index = self.addresses.index(self._target) if self._target in self.addresses else -1
        self._target = self.addresses[(index + 1) % len(self.addresses)]


class Client:
    """The synchronous client: an ``AsyncClient`` on an event loop in a background thread."""

    def __init__(
        self,
        addresses: str | Sequence[str],
        timeout: float = 10.0,
        *,
        cluster_id: str = DEFAULT_CLUSTER_ID,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._async = AsyncClient(addresses, timeout, cluster_id=cluster_id)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._async.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def append(
        self,
        stream: str,
        events: Iterable[NewEvent],
        expected_version: int = ANY,
        *,
        request_id: bytes | None = None,
    ) -> AppendResult:
        events = list(events)
        return self._run(
            self._async.append(stream, events, expected_version, request_id=request_id)
        )

    def append_multi(
        self,
        appends: Iterable[tuple[str, Iterable[NewEvent], int]],
        *,
        request_id: bytes | None = None,
    ) -> AppendResult:
        listed = [(s, list(e), v) for s, e, v in appends]
        return self._run(self._async.append_multi(listed, request_id=request_id))

    def read_stream(
        self,
        stream: str,
        from_version: int = 1,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        return self._run(
            self._async.read_stream(stream, from_version, limit, min_position=min_position)
        )

    def read_stream_backwards(
        self,
        stream: str,
        from_version: int | None = None,
        limit: int | None = None,
        *,
        min_position: int | None = None,
    ) -> list[RecordedEvent]:
        return self._run(
            self._async.read_stream_backwards(
                stream, from_version, limit, min_position=min_position
            )
        )

    def read_all(
        self, from_position: int = 1, limit: int | None = None, *, min_position: int | None = None
    ) -> list[RecordedEvent]:
        return self._run(self._async.read_all(from_position, limit, min_position=min_position))

    def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant:
        return self._run(self._async.acquire_lease(name, owner, ttl, checkpoint=checkpoint))

    def release_lease(self, name: str, owner: str, token: int) -> None:
        self._run(self._async.release_lease(name, owner, token))

    def leases(self) -> list[LeaseGrant]:
        return self._run(self._async.leases())

    def status(self) -> dict[str, Any]:
        return self._run(self._async.status())

    def subscribe(self, from_position: int = 1) -> Iterator[RecordedEvent]:
        """Committed events from ``from_position`` on, live; closing the iterator closes its
        connection."""
        iterator = self._async.subscribe(from_position)

        async def next_event() -> RecordedEvent:
            return await iterator.__anext__()

        try:
            while True:
                try:
                    yield self._run(next_event())
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.is_closed():
                self._run(iterator.aclose())


__all__ = ["AsyncClient", "Client", "EventLogError", "parse_addresses"]
