"""``AsyncClient``: the event log of a cluster, as coroutines.

A call is retried (on a refused connection, a redirect, a leader election in progress) until
its deadline; appends carry a request id chosen once per call, so a retry never appends
twice. Users never see a redirect, only the typed errors of the contract; what each answer
means is ``policy``'s to say, the frames are ``connection``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from eventlog.client.access_calls import AccessCalls
from eventlog.client.connection import DIAL_TIMEOUT, Connection, dial, requires_tls
from eventlog.client.member_calls import MemberCalls
from eventlog.client.policy import (
    Backoff,
    Retry,
    answer,
    attempt_timeout,
    known_addresses,
    next_address,
)
from eventlog.client.read_calls import SUBSCRIPTION_BUFFER, ReadCalls
from eventlog.errors import (
    AuthenticationFailed,
    ConfigError,
    TLSError,
    Unavailable,
    WrongCluster,
)
from eventlog.protocol import answers, reads, requests
from eventlog.protocol.addresses import parse_addresses
from eventlog.protocol.hello import NodeHello
from eventlog.protocol.requests import DEFAULT_MAX_APPEND_BYTES
from eventlog.records import (
    ANY,
    AppendResult,
    LeaseGrant,
    Manifest,
    NewEvent,
    NodeStatus,
    Tracking,
    tracking_covers,
)
from eventlog.security.passwords import credentials_from_env
from eventlog.security.tls import TLSConfig, client_context

__all__ = [
    "SUBSCRIPTION_BUFFER",
    "AsyncClient",
]

COPY_BUFFER = 8
"""Chunks of a store copy (1 MiB each) a client holds before it stops reading the socket."""


class AsyncClient(AccessCalls, MemberCalls, ReadCalls):
    """The event log of a cluster, as coroutines: any node's address will do; calls follow the
    leader and retry within ``timeout`` (the deadline of one call, retries included)."""

    def __init__(
        self,
        addresses: str | Sequence[str],
        timeout: float = 10.0,
        *,
        cluster_id: str | None = None,
        tls: TLSConfig | None = None,
        credentials: tuple[str, str] | None = None,
        insecure: bool = False,
    ) -> None:
        self._given = parse_addresses(addresses)
        if insecure and (tls is not None or credentials is not None):
            raise ConfigError("insecure= is plaintext: it takes no tls= and no credentials=")
        self.tls = tls if tls is not None or insecure else TLSConfig.from_env()
        """The CA the nodes' certificates must be signed by, and this client's certificate
        (its user) if it has one; by default as ``EVENTRAFT_TLS_CA``, ``EVENTRAFT_TLS_CERT``
        and ``EVENTRAFT_TLS_KEY`` say; None: plaintext, to nodes run with ``--insecure``
        (``insecure=True``: plaintext whatever the environment says)."""
        self._tls_context = client_context(self.tls) if self.tls is not None else None
        self._credentials = (
            credentials if credentials is not None or insecure else credentials_from_env()
        )
        """``(user, password)`` to sign in with (not needed with a client certificate); by
        default ``EVENTRAFT_USER`` with the password in ``EVENTRAFT_PASSWORD_FILE``."""
        if self._credentials is not None and self.tls is None:
            raise ConfigError("a password travels over TLS only: give tls= with credentials=")
        self.addresses = list(self._given)
        """Where to call: the addresses given, then the members the nodes name."""
        self.timeout = timeout
        self.max_append_bytes = DEFAULT_MAX_APPEND_BYTES
        """The largest append to send; the nodes say the cluster's own."""
        self.cluster_id = cluster_id
        """The cluster this client serves: pinned, or learnt from the first node it reaches;
        a node of another cluster then raises ``WrongCluster``."""
        self._target = self.addresses[0]
        self._connection: Connection | None = None
        self._retired: set[Connection] = set()
        """Connections left for another node, still answering the calls they carry."""
        self._connecting = asyncio.Lock()
        """Held while the connection changes."""
        self._dialing: asyncio.Task[Connection] | None = None
        """The dial every call that finds no connection awaits: thousands of calls in flight
        wake in one turn when it ends, not one turn each as a lock's queue would."""
        self._learnt: NodeHello | None = None
        """The node hello last taken in by ``_learn``."""
        self._rng = random.Random()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._dialing is not None and not self._dialing.done():
            self._dialing.cancel()
            with contextlib.suppress(BaseException):
                await self._dialing
        if self._connection is not None:
            self._retired.add(self._connection)
            self._connection = None
        for connection in list(self._retired):
            await connection.close()
        self._retired.clear()

    # -- the contract --------------------------------------------------------------------------
    async def append(
        self,
        stream: str,
        events: Iterable[NewEvent],
        expected_version: int = ANY,
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        return await self.append_multi(
            [(stream, events, expected_version)], request_id=request_id, tracking=tracking
        )

    async def append_multi(
        self,
        appends: Iterable[tuple[str, Iterable[NewEvent], int]],
        *,
        request_id: bytes | None = None,
        tracking: Tracking | None = None,
    ) -> AppendResult:
        """Append to several streams atomically, each with its own expected version, and
        with ``tracking`` if given (no streams at all: the tracking record alone)."""
        request = requests.new_request(appends, request_id, tracking)
        requests.check_size(request, self.max_append_bytes)
        payload = await self._call("append", {"request": request.encoded})
        return answers.unpack_result(payload)

    async def acquire_lease(
        self, name: str, owner: str, ttl: float, *, checkpoint: int = 0
    ) -> LeaseGrant:
        """Grant or renew the lease ``name`` to ``owner`` for ``ttl`` seconds of the cluster's
        clock, recording ``checkpoint``; raises ``LeaseHeld`` while another owner holds it."""
        request = requests.acquire_lease_request(name, owner, ttl, checkpoint)
        return answers.unpack_lease(await self._call("lease", {"request": request.encoded}))

    async def release_lease(self, name: str, owner: str, token: int) -> None:
        """Give the lease up now, if ``owner`` still holds it with ``token``."""
        request = requests.release_lease_request(name, owner, token)
        await self._call("lease", {"request": request.encoded})

    async def leases(self) -> list[LeaseGrant]:
        """Every lease ever granted, expired and released ones included, by name."""
        payload = await self._call("leases", {})
        return [answers.unpack_lease(raw) for raw in payload]

    async def max_tracking(self, name: str, *, min_position: int | None = None) -> int | None:
        """The position tracking record ``name`` holds (None before its first): linearizable,
        or from any node that has applied ``min_position``."""
        args: dict[str, Any] = {"name": requests.check_tracking_name(name)}
        if min_position is not None:
            args["min_position"] = reads.check_min_position(min_position)
        position = await self._call("tracking", args, follow_leader=min_position is None)
        return None if position is None else int(position)

    async def has_tracking(
        self, name: str, position: int, *, min_position: int | None = None
    ) -> bool:
        """Has consumer ``name`` processed ``position`` (its tracking record is there or
        beyond)?"""
        return tracking_covers(await self.max_tracking(name, min_position=min_position), position)

    async def status(self) -> NodeStatus:
        """The status of whichever node this client is connected to."""
        return answers.unpack_status(await self._call("status", {}, follow_leader=False))

    async def copy_store(self, write: Callable[[bytes], object]) -> Manifest:
        """A consistent copy of the store of the node this client talks to (the leader, once
        a call found it), handed to ``write`` chunk by chunk as it arrives; its manifest once
        whole. A copy cut off raises ``Unavailable``: what ``write`` got is to be thrown away."""
        try:
            connection = await self._dial(self._target, self.timeout)
        except OSError as error:
            raise Unavailable(f"no copy from {self._target}: {error}") from None
        try:
            queue = connection.open_stream("copy", {}, COPY_BUFFER)
            while True:
                item = await queue.get()
                if isinstance(item, Exception):
                    raise Unavailable(f"the copy from {connection.address} was cut off: {item}")
                if isinstance(item, tuple):
                    kind, payload = item
                    body = answer(kind, payload, follow_leader=False)
                    return answers.unpack_manifest(body["manifest"])
                write(item)
        except Retry as retry:
            raise Unavailable(
                f"the copy from {connection.address} failed: {retry.reason}"
            ) from None
        finally:
            await connection.close()

    # -- calls, redirects and retries ------------------------------------------------------------
    async def _call(self, op: str, args: dict[str, Any], *, follow_leader: bool = True) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        backoff = Backoff(self._rng)
        last = "no attempt"
        refused: dict[str, TLSError | AuthenticationFailed] = {}
        """Addresses whose TLS did not agree with ours, or that did not sign us in, in this
        call: once every address has, the call fails with it at once (one node with a bad
        certificate, or one that has not applied a new user yet, fails only itself)."""
        while loop.time() < deadline:
            target, connection = self._target, None
            attempt = sent = 0.0
            try:
                connection = await self._connect(deadline - loop.time())
                await self._greeted(connection, deadline - loop.time())
                attempt = attempt_timeout(deadline - loop.time(), len(self.addresses))
                sent = loop.time()
                # asyncio.timeout, not wait_for: a Ctrl-C (a cancellation) that lands as the
                # answer does must still cancel, never be taken for an answer.
                async with asyncio.timeout(attempt):
                    kind, payload = await connection.call(op, args)
                return answer(kind, payload, follow_leader=follow_leader)
            except Retry as retry:
                last = retry.reason
                if retry.address is not None:
                    await self._switch(retry.address)
                    continue
                if not retry.stay:
                    await self._give_up(target, connection)
            except TimeoutError:
                if last == "no attempt" or loop.time() < deadline:  # not cut by the deadline
                    last = f"no answer within {attempt:.3g}s" if connection else "dial timed out"
                if connection is None or connection.heard_at <= sent:
                    await self._give_up(target, connection)  # the node is silent to all
            except OSError as error:
                last = str(error) or type(error).__name__
                await self._give_up(target, connection)
            except (TLSError, AuthenticationFailed) as error:
                if connection is not None and connection.node is not None:
                    raise  # signed in, then removed (or its password changed): at once
                refused[target] = error
                if set(self.addresses) <= set(refused):
                    raise
                last = str(error)
                await self._give_up(target, connection)
                continue
            finally:
                if connection is not None:  # its hello named the members, answer or not
                    self._learn(connection)
            await asyncio.sleep(backoff.pause(deadline - loop.time()))
        raise Unavailable(f"{op} did not complete within {self.timeout}s (last: {last})")

    async def _greeted(self, connection: Connection, remaining: float) -> None:
        """Before a new connection's first call: its hello, briefly, so that the members it
        names are known when the call's share of the deadline is set (a node that then
        freezes costs one share, not the whole deadline, even if it was the one address)."""
        if connection.node is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.001, min(DIAL_TIMEOUT, remaining))):
                    await connection.greeted.wait()
        if connection.ended is not None:  # refused (another cluster) or gone: as a call would be
            silent = connection.node is None and not connection.heard
            if (
                silent
                and self._tls_context is None
                and await requires_tls(connection.address, DIAL_TIMEOUT)
            ):
                raise TLSError(
                    f"the node at {connection.address} requires TLS: give the cluster's CA "
                    "(tls=TLSConfig(ca=...), --tls-ca or EVENTRAFT_TLS_CA)"
                )
            if silent and await self._refused_our_certificate(connection.address):
                raise TLSError(
                    f"the node at {connection.address} refused this client's certificate "
                    "(expired, or not of the cluster's CA)"
                )
            raise connection.ended
        self._learn(connection)

    async def _refused_our_certificate(self, address: str) -> bool:
        """A TLS connection that ended before the node said anything, with a certificate of
        ours: does the node answer without it? Then ours is what it refused (TLS 1.3 checks a
        client's certificate after the client thinks the handshake is done)."""
        if self.tls is None or self.tls.cert is None:
            return False
        anonymous = client_context(TLSConfig(ca=self.tls.ca))
        try:
            probe = await dial(address, self.cluster_id, DIAL_TIMEOUT, anonymous)
        except (OSError, TLSError):
            return False
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DIAL_TIMEOUT):
                    await probe.greeted.wait()
            return probe.heard  # it answered: a hello, or that we must sign in
        finally:
            await probe.close()

    def _learn(self, connection: Connection) -> None:
        """Take in what the node's hello said: its cluster, and where the members listen; once
        per connection, not per call."""
        node = connection.node
        if node is None or node is self._learnt:
            return
        named = node.hello.cluster_id
        if named and self.cluster_id is not None and named != self.cluster_id:
            raise WrongCluster(self.cluster_id, named)
        if named and self.cluster_id is None:
            self.cluster_id = named
        self.addresses = known_addresses(self._given, node.members)
        self.max_append_bytes = node.max_append_bytes
        self._learnt = node

    async def _connect(self, timeout: float) -> Connection:
        if (current := self._connection) is not None and not current.reader_task.done():
            return current
        if self._dialing is None or self._dialing.done():
            self._dialing = asyncio.ensure_future(self._dial_target(timeout))
            self._dialing.add_done_callback(_retrieved)
        return await asyncio.shield(self._dialing)  # one caller's Ctrl-C ends its wait only

    async def _dial_target(self, timeout: float) -> Connection:
        async with self._connecting:
            if (current := self._connection) is not None and not current.reader_task.done():
                return current
            await self._drop_connection()
            self._connection = await self._dial(self._target, timeout)
            return self._connection

    async def _give_up(self, target: str, connection: Connection | None) -> None:
        """An attempt on ``target`` (over ``connection``, if it got one) failed with the node
        or the path to it: drop that connection and move on to the next address, once, for
        every call that saw the same failure (the others return at once, without the lock)."""
        if not self._gives_up(target, connection):
            return
        async with self._connecting:
            if self._gives_up(target, connection):
                if connection is not None:
                    await self._drop_connection(rotate=True)
                else:
                    self._target = next_address(self.addresses, self._target)

    def _gives_up(self, target: str, connection: Connection | None) -> bool:
        if connection is not None:
            return connection is self._connection
        return self._target == target and self._connection is None

    async def _dial(self, address: str, timeout: float) -> Connection:
        return await dial(address, self.cluster_id, timeout, self._tls_context, self._credentials)

    async def _switch(self, address: str) -> None:
        if address == self._target:  # another call of the same redirect got here first
            return
        async with self._connecting:
            if address != self._target:
                await self._drop_connection()
                self._target = address

    async def _drop_connection(self, *, rotate: bool = False) -> None:
        """Stop using the connection: it answers what it carries, then closes."""
        old = self._connection
        if old is not None:
            self._connection = None
            self._retired.add(old)
            old.reader_task.add_done_callback(lambda _: self._retired.discard(old))
            old.retire(self.timeout)
        if rotate:
            self._target = next_address(self.addresses, self._target)


def _retrieved(dialing: asyncio.Task[Connection]) -> None:
    """A dial's failure reaches the calls that awaited it; if none is left, it is dropped
    here rather than reported as never retrieved."""
    if not dialing.cancelled():
        dialing.exception()
