"""The auth store: users, their roles, and roles of one's own, kept in the replicated log.

Changes travel as requests of their own kind (``KIND_ACCESS``) and are applied by every node
alike (``change``, a pure function of the state before and the change), so every node
enforces the same rules and they survive restarts, membership changes and backups. The
whole store is one small value: it is read on every request, from memory, and written whole
when it changes (changes are rare; a store of ten thousand users is a few hundred KiB).

Until the first leader settles it, the store holds one user, ``admin``, with the ``admin``
role and no password: a client certificate of that name authenticates as it. The first
leader's ``init`` gives ``admin`` the password of its ``--admin-password-file``, if any, and
settles the store; later ``init`` requests change nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs
import msgpack

from eventlog.errors import AccessChangeRefused, CorruptRecord, InvalidRequest
from eventlog.security.permissions import BUILTIN_ROLES, Action, Permission, Role

__all__ = [
    "ADMIN",
    "DEFAULT_ACCESS",
    "OPS",
    "AccessState",
    "User",
    "change",
    "check_change",
    "check_name",
]

ADMIN: Final = "admin"
"""The first user, and the role that may do everything."""
MAX_NAME_CHARS: Final = 128
_NAME = re.compile(r"[\w.@+-]+")
MAX_PERMISSIONS: Final = 256

OPS: Final = frozenset(
    {
        "init",
        "user_add",
        "user_remove",
        "user_passwd",
        "user_grant",
        "user_revoke",
        "role_add",
        "role_remove",
        "role_grant",
        "role_revoke",
    }
)
"""A change is ``[op, name, argument]``; ``name`` is the user's or the role's."""


@attrs.frozen
class User:
    name: str
    password_hash: str | None = None
    """``eventlog.security.passwords``' form; None: the user signs in by certificate only."""
    roles: tuple[str, ...] = ()


@attrs.frozen
class AccessState:
    """Invariant: every role a user holds exists; at least one user holds ``admin``."""

    users: Mapping[str, User]
    roles: Mapping[str, Role] = attrs.field(factory=dict)
    """The roles of one's own; the built-in ones are ``BUILTIN_ROLES``."""
    settled: bool = False
    """The first leader has set up the first admin."""

    def role(self, name: str) -> Role | None:
        return BUILTIN_ROLES.get(name) or self.roles.get(name)

    def roles_of(self, user: User) -> list[Role]:
        return [role for name in user.roles if (role := self.role(name)) is not None]

    def encode(self) -> bytes:
        packed: bytes = msgpack.packb(
            [
                1,
                self.settled,
                [[u.name, u.password_hash, list(u.roles)] for u in self.users.values()],
                [[r.name, _pack_permissions(r.permissions)] for r in self.roles.values()],
            ],
            use_bin_type=True,
        )
        return packed

    @classmethod
    def decode(cls, raw: bytes) -> AccessState:
        """What ``encode`` made; ``CorruptRecord`` otherwise."""
        try:
            version, settled, users, roles = msgpack.unpackb(raw, raw=False)
            if version != 1:
                raise ValueError(f"unknown format {version!r}")
            return cls(
                users={name: User(name, hashed, tuple(held)) for name, hashed, held in users},
                roles={
                    name: Role(name, _unpack_permissions(permissions))
                    for name, permissions in roles
                },
                settled=bool(settled),
            )
        except (ValueError, TypeError, KeyError, msgpack.UnpackException) as error:
            raise CorruptRecord("meta", b"access", f"access store: {error}") from error


DEFAULT_ACCESS: Final = AccessState(users={ADMIN: User(ADMIN, None, (ADMIN,))})


def check_name(name: object, what: str = "name") -> str:
    """A user's or a role's name: 1..128 letters, digits and ``_.@+-``."""
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= MAX_NAME_CHARS
        or not _NAME.fullmatch(name)
    ):
        raise InvalidRequest(
            f"a {what} is 1..{MAX_NAME_CHARS} letters, digits and _.@+-, not {name!r:.60}"
        )
    return name


def check_change(body: Any) -> None:
    """``InvalidRequest`` unless ``body`` is a change as a node proposes it."""
    if not isinstance(body, list) or len(body) != 3 or body[0] not in OPS:
        raise InvalidRequest(f"an access change is [op, name, argument], op one of {sorted(OPS)}")
    op, name, argument = body
    check_name(name)
    if op in ("init", "user_passwd"):
        _check_hash(argument, optional=op == "init")
    elif op == "user_add":
        if not isinstance(argument, list) or len(argument) != 2:
            raise InvalidRequest("user_add takes [password_hash, roles]")
        _check_hash(argument[0], optional=True)
        if not isinstance(argument[1], list):
            raise InvalidRequest("a user's roles are a list")
        for role in argument[1]:
            check_name(role, "role")
    elif op in ("user_grant", "user_revoke"):
        check_name(argument, "role")
    elif op == "role_add":
        if not isinstance(argument, list) or len(argument) > MAX_PERMISSIONS:
            raise InvalidRequest(f"a role has a list of at most {MAX_PERMISSIONS} permissions")
        _unpack_permissions(argument, InvalidRequest)
    elif op in ("role_grant", "role_revoke"):
        _unpack_permissions([argument], InvalidRequest)
    elif argument is not None:
        raise InvalidRequest(f"{op} takes no argument")


def change(state: AccessState, body: list[Any]) -> AccessState:
    """The store after one change (checked by ``check_change``); ``AccessChangeRefused``
    names what forbids it, and nothing changes."""
    op, name, argument = body
    users, roles = dict(state.users), dict(state.roles)
    if op == "init":
        if state.settled:
            return state
        admin = users.get(ADMIN)
        if admin is not None and argument is not None:
            users[ADMIN] = attrs.evolve(admin, password_hash=argument)
        return AccessState(users, roles, settled=True)
    if op.startswith("user_"):
        _change_user(state, users, op, name, argument)
    else:
        _change_role(state, users, roles, op, name, argument)
    after = AccessState(users, roles, settled=state.settled)
    if not any(ADMIN in user.roles for user in after.users.values()):
        raise AccessChangeRefused("last_admin", "the cluster keeps at least one admin")
    return after


def _change_user(
    state: AccessState, users: dict[str, User], op: str, name: str, argument: Any
) -> None:
    user = users.get(name)
    if op == "user_add":
        if user is not None:
            raise AccessChangeRefused("user_exists", f"user {name!r} exists")
        hashed, held = argument
        for role in held:
            _existing_role(state, role)
        users[name] = User(name, hashed, tuple(dict.fromkeys(held)))
        return
    if user is None:
        raise AccessChangeRefused("no_such_user", f"no user {name!r}")
    if op == "user_remove":
        del users[name]
    elif op == "user_passwd":
        users[name] = attrs.evolve(user, password_hash=argument)
    elif op == "user_grant":
        _existing_role(state, argument)
        if argument not in user.roles:
            users[name] = attrs.evolve(user, roles=(*user.roles, argument))
    elif op == "user_revoke":
        if argument not in user.roles:
            raise AccessChangeRefused("no_such_grant", f"user {name!r} has no role {argument!r}")
        users[name] = attrs.evolve(user, roles=tuple(r for r in user.roles if r != argument))


def _change_role(
    state: AccessState,
    users: dict[str, User],
    roles: dict[str, Role],
    op: str,
    name: str,
    argument: Any,
) -> None:
    if name in BUILTIN_ROLES:
        raise AccessChangeRefused("builtin_role", f"role {name!r} is built in and cannot change")
    role = roles.get(name)
    if op == "role_add":
        if role is not None:
            raise AccessChangeRefused("role_exists", f"role {name!r} exists")
        roles[name] = Role(name, tuple(dict.fromkeys(_unpack_permissions(argument))))
        return
    if role is None:
        raise AccessChangeRefused("no_such_role", f"no role {name!r}")
    if op == "role_remove":  # revoked from every user who held it, as etcd does
        del roles[name]
        for user in list(users.values()):
            if name in user.roles:
                users[user.name] = attrs.evolve(
                    user, roles=tuple(r for r in user.roles if r != name)
                )
        return
    (permission,) = _unpack_permissions([argument])
    if op == "role_grant":
        if permission not in role.permissions:
            roles[name] = attrs.evolve(role, permissions=(*role.permissions, permission))
    elif permission not in role.permissions:
        raise AccessChangeRefused("no_such_grant", f"role {name!r} has no {permission}")
    else:
        kept = tuple(p for p in role.permissions if p != permission)
        roles[name] = attrs.evolve(role, permissions=kept)


def _permission(action: Any, prefix: Any) -> Permission:
    if not isinstance(prefix, str) or len(prefix) > MAX_NAME_CHARS * 2:
        raise TypeError("a prefix is a string of 256 characters at most")
    return Permission(Action(action), prefix)


def _existing_role(state: AccessState, name: str) -> None:
    if state.role(name) is None:
        raise AccessChangeRefused("no_such_role", f"no role {name!r}")


def _check_hash(value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.startswith("scrypt$") or len(value) > 512:
        raise InvalidRequest("a password travels into the log only as a node's scrypt hash")


def _pack_permissions(permissions: tuple[Permission, ...]) -> list[list[str]]:
    return [[p.action.value, p.prefix] for p in permissions]


def _unpack_permissions(raw: Any, error: type[Exception] = CorruptRecord) -> tuple[Permission, ...]:
    try:
        return tuple(_permission(action, prefix) for action, prefix in raw)
    except (ValueError, TypeError) as wrong:
        message = f"a permission is [action, prefix], action one of {[a.value for a in Action]}"
        if error is CorruptRecord:
            raise CorruptRecord("meta", b"access", f"{message}: {wrong}") from wrong
        raise InvalidRequest(f"{message}: {wrong}") from None
