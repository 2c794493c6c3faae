"""The calls that look at and change users and roles (``eventraft user ...``, ``role ...``).

A change is proposed as an access request with a request id of the caller's (a retry after a
lost answer gets the first outcome, never a second change), a password hashed here first:
only hashes enter the log. The answer comes once the change is applied on this node, so the
next call on the connection already sees it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventlog.errors import InvalidRequest
from eventlog.protocol import answers
from eventlog.protocol.requests import REQUEST_ID_BYTES, access_request
from eventlog.records import Access, RoleInfo, UserInfo
from eventlog.security.access import AccessState, check_name
from eventlog.security.passwords import MAX_PASSWORD_BYTES
from eventlog.security.permissions import BUILTIN_ROLES, Role
from eventlog.state.outcomes import AccessChanged

if TYPE_CHECKING:
    from eventlog.node.server import ClientSession

__all__ = [
    "CHANGES",
    "access_record",
    "change_access",
    "list_access",
    "role_record",
    "whoami",
]

CHANGES = {
    "user_add": "password roles",
    "user_remove": "",
    "user_passwd": "password",
    "user_grant": "role",
    "user_revoke": "role",
    "role_add": "permissions",
    "role_remove": "",
    "role_grant": "permission",
    "role_revoke": "permission",
}
"""What each change a client may ask for takes beside the name (``init`` is the nodes')."""


async def list_access(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    return answers.pack_access(access_record(session.node.storage.access))


async def whoami(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    """Who this connection signed in as, and what its roles let it do."""
    principal = session.principal
    roles = principal.roles(session.node.storage.access) if principal.name else []
    return {
        "kind": principal.kind.value,
        "name": principal.name,
        "roles": [answers.pack_role(role_record(role)) for role in roles],
    }


async def change_access(session: ClientSession, _: int, args: dict[str, Any]) -> Any:
    op, name, request_id = args.get("op"), args.get("name"), args.get("request_id")
    if op not in CHANGES:
        raise InvalidRequest(f"op must be one of {sorted(CHANGES)}, not {op!r:.40}")
    if not isinstance(request_id, bytes) or len(request_id) != REQUEST_ID_BYTES:
        raise InvalidRequest(f"request_id must be {REQUEST_ID_BYTES} bytes")
    check_name(name, "role" if op.startswith("role") else "user")
    argument: Any = None
    takes = CHANGES[op]
    if "password" in takes:
        argument = await _hashed(session, args.get("password"), optional=op == "user_add")
    if op == "user_add":
        roles = args.get("roles", [])
        if not isinstance(roles, list):
            raise InvalidRequest("roles are a list of role names")
        argument = [argument, roles]
    elif takes == "role":
        argument = args.get("role")
    elif takes == "permissions":
        argument = args.get("permissions", [])
    elif takes == "permission":
        argument = args.get("permission")
    outcome = await session.node.append(access_request([op, name, argument], request_id))
    if outcome.error is not None:
        raise outcome.error
    assert isinstance(outcome.result, AccessChanged), "an access request's outcome"
    await session.node.read_barrier()  # written here: the next call is checked against it
    return {"op": outcome.result.op, "name": outcome.result.name}


async def _hashed(session: ClientSession, password: Any, *, optional: bool) -> str | None:
    if password is None and optional:
        return None  # a user who signs in by certificate only
    if not isinstance(password, str) or not password:
        raise InvalidRequest("a password is a non-empty string")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidRequest(f"a password is {MAX_PASSWORD_BYTES} bytes at most")
    return await session.auth.hash(password)


def access_record(access: AccessState) -> Access:
    """Users (with whether they have a password, never its hash) and every role."""
    return Access(
        users=tuple(
            UserInfo(name=user.name, roles=user.roles, password=user.password_hash is not None)
            for user in sorted(access.users.values(), key=lambda user: user.name)
        ),
        roles=tuple(
            role_record(role)
            for role in [*BUILTIN_ROLES.values(), *sorted(access.roles.values(), key=_name)]
        ),
    )


def role_record(role: Role) -> RoleInfo:
    return RoleInfo(
        name=role.name,
        permissions=tuple((p.action.value, p.prefix) for p in role.permissions),
        builtin=role.builtin,
    )


def _name(role: Role) -> str:
    return role.name
