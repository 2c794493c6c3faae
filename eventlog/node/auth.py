"""Signing a client in, at its hello: by its certificate, or by user name and password over
TLS; who it is then decides what it may do (``eventlog.security.principal``).

A node run ``--insecure`` signs no one in: everyone may do everything there. Over TLS, a
node's certificate signs in as that node; a user name with its password as that user (even
beside a client certificate: one asks for it by name); a client certificate as the user it
names. A password is checked against the user's hash in a thread of its own (scrypt takes tens of
milliseconds), and failures are slowed down per source address (``Throttle``). Whatever was
wrong, a failed password sign-in says the same, so it tells no one which users exist.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from eventlog.errors import AuthenticationFailed
from eventlog.protocol.hello import Hello
from eventlog.protocol.requests import KIND_LEASE, tracking_of
from eventlog.records import TRACKING_PREFIX
from eventlog.security.access import ADMIN, AccessState
from eventlog.security.identity import node_of, user_of
from eventlog.security.passwords import hash_password, verify_password
from eventlog.security.permissions import Action
from eventlog.security.principal import Kind, Principal
from eventlog.security.throttle import Throttle

__all__ = [
    "Authenticator",
    "check_request_allowed",
]

WRONG_PASSWORD = "wrong user name or password"
NO_CREDENTIALS = (
    "this cluster signs clients in: give a client certificate, or a user name and password "
    "(credentials=(user, password), --user with --password-file)"
)


DECOY_HASH = "scrypt$15$8$1$" + "A" * 22 + "$" + "A" * 43
"""Checked for a user who does not exist: as slow as a real hash, and matching no password."""


class Authenticator:
    def __init__(self, node_id: int, secure: bool, admin_password_hash: str | None) -> None:
        self.secure = secure
        self.admin_password_hash = admin_password_hash
        """This node's ``--admin-password-file``, hashed: signs ``admin`` in until the first
        leader has settled the auth store (after that the store's hash is the one)."""
        self.throttle = Throttle()
        self.hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password-hasher")
        """One thread: scrypt takes 32 MiB and tens of milliseconds a hash."""
        self.logger = structlog.get_logger(__name__).bind(node_id=node_id)

    def close(self) -> None:
        self.hasher.shutdown(wait=False, cancel_futures=True)

    async def hash(self, password: str) -> str:
        """``hash_password`` in the hasher thread (``ValueError`` for an empty one)."""
        return await asyncio.get_running_loop().run_in_executor(
            self.hasher, hash_password, password
        )

    async def sign_in(
        self, hello: Hello, peercert: dict[str, Any] | None, source: str, access: AccessState
    ) -> Principal:
        """Who the caller is; ``AuthenticationFailed`` if it is no one this cluster knows."""
        if not self.secure:
            return Principal.anyone()
        node = node_of(peercert)
        if node is not None:
            return Principal.node(node)
        if hello.user:  # asked for by name: it wins over a certificate's user
            return await self._by_password(hello.user, hello.password, source, access)
        certified = user_of(peercert)
        if certified is not None:
            if certified not in access.users:
                raise AuthenticationFailed(
                    f"the client certificate's user {certified!r} is no user of this cluster"
                )
            return Principal.user(certified)
        raise AuthenticationFailed(NO_CREDENTIALS)

    async def _by_password(
        self, name: str, password: str, source: str, access: AccessState
    ) -> Principal:
        async with self.throttle.turn(source):
            user = access.users.get(name)
            stored = kept = user.password_hash if user is not None else None
            if name == ADMIN and not access.settled and self.admin_password_hash is not None:
                stored = self.admin_password_hash  # the store's will differ: nothing to keep
            loop = asyncio.get_running_loop()
            # An unknown user costs a hash too, so the time taken tells nothing either.
            checked = stored if stored is not None else DECOY_HASH
            matched = await loop.run_in_executor(self.hasher, verify_password, password, checked)
            if not matched or stored is None:
                failures = self.throttle.failed(source)
                self.logger.warning(
                    "sign_in_failed",
                    user=name[:60],
                    source=source,
                    failures=failures,
                    next_delay=self.throttle.delay(source),
                )
                raise AuthenticationFailed(WRONG_PASSWORD)
            self.throttle.succeeded(source)
            return Principal.user(name, kept)


def check_request_allowed(principal: Principal, access: AccessState, fields: list[Any]) -> None:
    """An append needs ``write`` on every stream it names (one forbidden stream and none is
    written) and on ``$tracking-<name>`` of a tracking record it carries; a lease request
    ``lease`` on the lease's name."""
    if principal.kind is Kind.ANYONE:
        return
    kind, _, body = fields[:3]
    if kind == KIND_LEASE:
        principal.check(access, Action.LEASE, body[1])
        return
    for stream, _, _ in body:
        principal.check(access, Action.WRITE, stream)
    tracking = tracking_of(fields)
    if tracking is not None:
        principal.check(access, Action.WRITE, TRACKING_PREFIX + tracking.name)
