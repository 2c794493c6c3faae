"""Who is calling on one connection, and the check every request of it passes.

A connection signs in once, at its hello; its permissions are looked up again on every
request, in the auth store as it stands then, so a user removed, a role revoked or a password
changed takes effect on the next request of every connection.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

from eventlog.errors import AuthenticationFailed
from eventlog.security.access import AccessState
from eventlog.security.permissions import Action, Permission, Role, allowed, check

__all__ = [
    "NODE_ROLE",
    "Kind",
    "Principal",
]

NODE_ROLE: Final = Role(
    "node",
    (
        Permission(Action.STATUS),
        Permission(Action.MEMBERS),
        Permission(Action.BACKUP),
        Permission(Action.READ),
    ),
    builtin=True,
)
"""What a node's certificate may do as a client of another node: what joining takes (the
configuration, a copy of the store) and reading."""


class Kind(enum.Enum):
    USER = "user"
    NODE = "node"
    ANYONE = "anyone"
    """A node run ``--insecure``: no one signs in, everyone may do everything."""


@attrs.frozen
class Principal:
    kind: Kind
    name: str = ""
    password_hash: str | None = attrs.field(default=None, repr=False)
    """The hash a password sign-in was checked against: once it changes, the connection must
    sign in again. None for a certificate's user."""
    _roles: list[tuple[AccessState, list[Role]]] = attrs.field(
        factory=list, init=False, eq=False, repr=False
    )

    @classmethod
    def anyone(cls) -> Principal:
        return cls(Kind.ANYONE)

    @classmethod
    def node(cls, node_id: int) -> Principal:
        return cls(Kind.NODE, f"node-{node_id}")

    @classmethod
    def user(cls, name: str, password_hash: str | None = None) -> Principal:
        return cls(Kind.USER, name, password_hash)

    def check(self, access: AccessState, action: Action, name: str | None = None) -> None:
        """``PermissionDenied`` unless this caller may do ``action`` on ``name`` (None: the
        whole log); ``AuthenticationFailed`` if its user is gone or its password changed."""
        if self.kind is Kind.ANYONE:
            return
        check(self.name, self.roles(access), action, name)

    def allows(self, access: AccessState, action: Action, name: str | None = None) -> bool:
        """``check`` as a yes or no (to leave out of an answer what the caller may not see)."""
        return self.kind is Kind.ANYONE or allowed(self.roles(access), action, name)

    def reads_any(self, access: AccessState) -> bool:
        """Whether it may read some streams (so it sees positions of the log anyway)."""
        if self.kind is Kind.ANYONE:
            return True
        return any(
            permission.action is Action.READ
            for role in self.roles(access)
            for permission in role.permissions
        )

    def roles(self, access: AccessState) -> list[Role]:
        """The caller's roles in ``access``, worked out once per state of the auth store."""
        if self.kind is Kind.NODE:
            return [NODE_ROLE]
        cached = self._roles
        if cached and cached[0][0] is access:
            return cached[0][1]
        user = access.users.get(self.name)
        if user is None:
            raise AuthenticationFailed(f"user {self.name!r} was removed")
        if self.password_hash is not None and user.password_hash != self.password_hash:
            raise AuthenticationFailed(f"the password of user {self.name!r} changed: sign in again")
        roles = access.roles_of(user)
        cached[:] = [(access, roles)]
        return roles
