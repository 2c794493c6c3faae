"""What a user may do: roles made of permissions, each an action on a name prefix.

Stream actions (``read``, ``write``) and ``lease`` take a prefix of the stream or lease name
they cover ("" covers every name); reading the whole log (``read_all``, ``subscribe``) needs
``read`` on "", and reading it through a filter of stream prefixes ``read`` on each of them.
The cluster's own actions (``status``, ``members``, ``backup``, ``change_members``,
``manage_users``) take no prefix. Four roles are built in and cannot be changed: ``admin``
(everything), ``operator`` (status, member list, backup), ``reader`` (read everything) and
``writer`` (read and write every stream). A projection worker needs ``read`` and ``lease``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import attrs

from eventlog.errors import PermissionDenied

__all__ = [
    "BUILTIN_ROLES",
    "Action",
    "Permission",
    "Role",
    "allowed",
    "check",
]


class Action(enum.Enum):
    READ = "read"
    WRITE = "write"
    LEASE = "lease"
    STATUS = "status"
    MEMBERS = "members"
    BACKUP = "backup"
    CHANGE_MEMBERS = "change_members"
    MANAGE_USERS = "manage_users"

    @property
    def named(self) -> bool:
        """Does it act on a stream or lease name (and so take a prefix)?"""
        return self in (Action.READ, Action.WRITE, Action.LEASE)


@attrs.frozen
class Permission:
    action: Action
    prefix: str = ""
    """The names it covers: those that start with it ("" is every name)."""

    def __attrs_post_init__(self) -> None:
        if self.prefix and not self.action.named:
            raise ValueError(f"{self.action.value} takes no name prefix")

    def covers(self, action: Action, name: str | None) -> bool:
        """``name`` None is the whole log (or no name at all): only "" covers it."""
        if action is not self.action:
            return False
        if not action.named:
            return True
        return self.prefix == "" if name is None else name.startswith(self.prefix)

    def __str__(self) -> str:
        return (
            f"{self.action.value} on {self.prefix!r}*" if self.action.named else self.action.value
        )


@attrs.frozen
class Role:
    name: str
    permissions: tuple[Permission, ...] = ()
    builtin: bool = False


BUILTIN_ROLES: Mapping[str, Role] = {
    role.name: role
    for role in (
        Role("admin", tuple(Permission(action) for action in Action), builtin=True),
        Role(
            "operator",
            (Permission(Action.STATUS), Permission(Action.MEMBERS), Permission(Action.BACKUP)),
            builtin=True,
        ),
        Role("reader", (Permission(Action.READ),), builtin=True),
        Role("writer", (Permission(Action.READ), Permission(Action.WRITE)), builtin=True),
    )
}


def allowed(roles: Iterable[Role], action: Action, name: str | None = None) -> bool:
    return any(permission.covers(action, name) for role in roles for permission in role.permissions)


def check(user: str, roles: Iterable[Role], action: Action, name: str | None = None) -> None:
    """``PermissionDenied`` naming the user, what was missing and on what, unless allowed."""
    if not allowed(roles, action, name):
        raise PermissionDenied(user, action.value, "the whole log" if name is None else name)
