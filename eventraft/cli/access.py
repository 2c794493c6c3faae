"""``eventraft user add|remove|passwd|grant|revoke|list`` and ``eventraft role
add|remove|grant|revoke|list``: the cluster's users and roles, changed through its log.

A new password is read from ``--new-password-file``, or from standard input (asked for
twice, unseen, on a terminal), never from the command line. Each change is answered once it
is applied; a refused one fails with one line naming why."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import click
from rich.table import Table

from eventlog.client.async_client import AsyncClient
from eventlog.errors import ConfigError
from eventlog.records import Access, RoleInfo
from eventlog.security.passwords import read_password_file
from eventlog.security.permissions import Action
from eventlog.security.tls import TLSConfig
from eventraft.cli.calls import json_option, run_call
from eventraft.cli.options import cluster_id_option, cluster_option, timeout_option
from eventraft.cli.tls_options import client_options, password_file_option
from eventraft.console import output_console

__all__ = [
    "role",
    "user",
]

_ACTIONS = [action.value for action in Action]


@click.group()
def user() -> None:
    """Look at and change the cluster's users."""


@click.group()
def role() -> None:
    """Look at and change the cluster's roles."""


Call = Callable[[AsyncClient], Awaitable[Any]]


def _cluster_command(group: click.Group, name: str, help: str) -> Callable[[Any], Any]:
    """A subcommand that makes one call: ``f(**its own options)`` returns the call, which runs
    against ``--cluster`` with the client options; what it returns is printed by ``f``'s
    ``show`` attribute, if any."""

    def register(f: Callable[..., tuple[Call, Callable[[Any], None] | None]]) -> Any:
        def command(
            addresses: str,
            cluster_id: str | None,
            timeout: float,
            tls: TLSConfig | None,
            credentials: tuple[str, str] | None,
            **options: Any,
        ) -> None:
            call, show = f(**options)
            answer = run_call(addresses, cluster_id, timeout, tls, credentials, call)
            if show is not None:
                show(answer)

        command.__name__ = f.__name__
        command.__click_params__ = list(getattr(f, "__click_params__", []))  # type: ignore[attr-defined]
        for option in (client_options, timeout_option(10.0, "the call"), cluster_id_option):
            command = option(command)
        return group.command(name, help=help)(cluster_option(command))

    return register


def _done(what: str) -> Callable[[Any], None]:
    return lambda _: click.echo(what)


def _new_password(path: Path | None) -> str:
    """From the file, else from standard input (asked twice, unseen, on a terminal)."""
    try:
        if path is not None:
            return read_password_file(path)
        if sys.stdin.isatty():
            entered: str = click.prompt("New password", hide_input=True, confirmation_prompt=True)
            return entered
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.UsageError("no password on standard input (or give --new-password-file)")
        return line
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="--new-password-file") from None


_new_password_file: Callable[[Any], Any] = password_file_option(
    "--new-password-file",
    "A file holding the new password.  Without it, the password is read from standard input.",
    "EVENTRAFT_NEW_PASSWORD_FILE",
)


# -- users -----------------------------------------------------------------------------------------
@_cluster_command(user, "add", "Add a user; its password from standard input or a file.")
@click.argument("name")
@_new_password_file
@click.option(
    "--role", "roles", multiple=True, help="A role to grant at once (repeatable).  [default: none]"
)
@click.option(
    "--no-password",
    is_flag=True,
    help="No password: the user signs in by a client certificate of its name only.",
)
def add_user(
    name: str, new_password_file: Path | None, roles: tuple[str, ...], no_password: bool
) -> tuple[Call, Any]:
    if no_password and new_password_file is not None:
        raise click.UsageError("--no-password goes without --new-password-file")
    password = None if no_password else _new_password(new_password_file)
    return (
        lambda client: client.add_user(name, password, roles),
        _done(f"user {name} added" + (f" with roles {', '.join(roles)}" if roles else "")),
    )


@_cluster_command(user, "remove", "Remove a user: its connections are refused from now on.")
@click.argument("name")
def remove_user(name: str) -> tuple[Call, Any]:
    return lambda client: client.remove_user(name), _done(f"user {name} removed")


@_cluster_command(user, "passwd", "Set a user's password; its connections sign in again.")
@click.argument("name")
@_new_password_file
def set_password(name: str, new_password_file: Path | None) -> tuple[Call, Any]:
    password = _new_password(new_password_file)
    return lambda client: client.set_password(name, password), _done(f"password of {name} set")


def _grant_or_revoke_role(verb: str, past: str, preposition: str) -> None:
    """``user grant|revoke NAME ROLE``."""

    @_cluster_command(user, verb, f"{verb.capitalize()} a role {preposition} a user.")
    @click.argument("name")
    @click.argument("role_name", metavar="ROLE")
    def command(name: str, role_name: str) -> tuple[Call, Any]:
        return (
            lambda client: getattr(client, f"{verb}_role")(name, role_name),
            _done(f"role {role_name} {past} {preposition} {name}"),
        )


_grant_or_revoke_role("grant", "granted", "to")
_grant_or_revoke_role("revoke", "revoked", "from")


@_cluster_command(user, "list", "Every user, its roles, and whether it has a password.")
@json_option
def list_users(as_json: bool) -> tuple[Call, Any]:
    def show(access: Access) -> None:
        rows = [
            (one, (one.name, ", ".join(one.roles), "yes" if one.password else "no"))
            for one in access.users
        ]
        _records("eventraft users", ("user", "roles", "password"), rows, as_json)

    return lambda client: client.access(), show


def _records(
    title: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, tuple[str, ...]]], as_json: bool
) -> None:
    """Records as JSON lines, or as a table of the cells beside each."""
    if as_json:
        for record, _ in rows:
            click.echo(json.dumps(attrs.asdict(record), sort_keys=True))
        return
    table = Table(*columns, title=title)
    for _, cells in rows:
        table.add_row(*cells)
    output_console().print(table)


# -- roles -----------------------------------------------------------------------------------------
def _permission(text: str) -> tuple[str, str]:
    """``ACTION`` or ``ACTION:PREFIX``."""
    action, _, prefix = text.partition(":")
    if action not in _ACTIONS:
        raise click.BadParameter(
            f"{action!r} is no action; one of {', '.join(_ACTIONS)}", param_hint="PERMISSION"
        )
    return action, prefix


@_cluster_command(
    role, "add", "Add a role of PERMISSIONs: ACTION or ACTION:PREFIX, e.g. read:orders-."
)
@click.argument("name")
@click.argument("permissions", nargs=-1, metavar="[PERMISSION]...")
def add_role(name: str, permissions: tuple[str, ...]) -> tuple[Call, Any]:
    parsed = [_permission(text) for text in permissions]
    return lambda client: client.add_role(name, parsed), _done(f"role {name} added")


@_cluster_command(role, "remove", "Remove a role (revoked from every user who holds it).")
@click.argument("name")
def remove_role(name: str) -> tuple[Call, Any]:
    return lambda client: client.remove_role(name), _done(f"role {name} removed")


def _grant_or_revoke_permission(verb: str, past: str, preposition: str) -> None:
    """``role grant|revoke NAME ACTION[:PREFIX]``."""

    @_cluster_command(
        role,
        verb,
        f"{verb.capitalize()} a PERMISSION (ACTION or ACTION:PREFIX) {preposition} a role.",
    )
    @click.argument("name")
    @click.argument("permission")
    def command(name: str, permission: str) -> tuple[Call, Any]:
        action, prefix = _permission(permission)
        return (
            lambda client: getattr(client, f"{verb}_permission")(name, action, prefix),
            _done(f"{permission} {past} {preposition} role {name}"),
        )


_grant_or_revoke_permission("grant", "granted", "to")
_grant_or_revoke_permission("revoke", "revoked", "from")


@_cluster_command(role, "list", "Every role and its permissions (built-in ones first).")
@json_option
def list_roles(as_json: bool) -> tuple[Call, Any]:
    def show(access: Access) -> None:
        rows = [
            (one, (one.name, _permissions(one), "yes" if one.builtin else "no"))
            for one in access.roles
        ]
        _records("eventraft roles", ("role", "permissions", "built in"), rows, as_json)

    return lambda client: client.access(), show


def _permissions(one: RoleInfo) -> str:
    return ", ".join(
        f"{action}:{prefix}" if prefix else action for action, prefix in one.permissions
    )
