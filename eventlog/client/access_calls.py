"""The calls of a client that manage users and roles (``eventraft user ...``, ``role ...``),
and the ones that say who the client is. Each change is answered once applied on the leader,
with a request id chosen once per call (a retry never changes twice); a refused change raises
``AccessChangeRefused`` naming why, a caller without ``manage_users`` ``PermissionDenied``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventlog.protocol import answers
from eventlog.protocol.requests import new_request_id
from eventlog.records import Access, RoleInfo

__all__ = [
    "AccessCalls",
]


class AccessCalls:
    """Mixed into ``AsyncClient``, whose ``_call`` carries them."""

    async def _call(self, op: str, args: dict[str, Any], *, follow_leader: bool = True) -> Any:
        raise NotImplementedError

    async def access(self) -> Access:
        """Every user (never a password) and every role."""
        return answers.unpack_access(await self._call("access", {}))

    async def whoami(self) -> tuple[str, tuple[RoleInfo, ...]]:
        """The user (or ``node-N``) this client signed in as, and its roles; ("", ()) at a
        node run ``--insecure``, where no one signs in."""
        body = await self._call("whoami", {}, follow_leader=False)
        return body["name"], tuple(answers.unpack_role(role) for role in body["roles"])

    async def head(self) -> int:
        """The position of the last event committed (read on the leader)."""
        return int(await self._call("head", {}))

    async def add_user(
        self, name: str, password: str | None = None, roles: Iterable[str] = ()
    ) -> None:
        """A new user; without a password it signs in by client certificate only."""
        await self._change_access("user_add", name, password=password, roles=list(roles))

    async def remove_user(self, name: str) -> None:
        await self._change_access("user_remove", name)

    async def set_password(self, name: str, password: str) -> None:
        """Connections signed in with the old password are refused from their next call."""
        await self._change_access("user_passwd", name, password=password)

    async def grant_role(self, user: str, role: str) -> None:
        await self._change_access("user_grant", user, role=role)

    async def revoke_role(self, user: str, role: str) -> None:
        await self._change_access("user_revoke", user, role=role)

    async def add_role(self, name: str, permissions: Iterable[tuple[str, str]] = ()) -> None:
        """A role of ``(action, prefix)`` permissions: ``read``, ``write`` or ``lease`` on the
        names starting with ``prefix`` ("" for all), or a cluster action with prefix ""."""
        await self._change_access("role_add", name, permissions=[list(p) for p in permissions])

    async def remove_role(self, name: str) -> None:
        """Revoked from every user who holds it, too."""
        await self._change_access("role_remove", name)

    async def grant_permission(self, role: str, action: str, prefix: str = "") -> None:
        await self._change_access("role_grant", role, permission=[action, prefix])

    async def revoke_permission(self, role: str, action: str, prefix: str = "") -> None:
        await self._change_access("role_revoke", role, permission=[action, prefix])

    async def _change_access(self, op: str, name: str, **args: Any) -> None:
        await self._call(
            "change_access", {"op": op, "name": name, "request_id": new_request_id(), **args}
        )
