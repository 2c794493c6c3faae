"""Roles of permissions on name prefixes; the built-in roles; reading the whole log needs
read on every name."""

from __future__ import annotations

import pytest

from eventlog.errors import PermissionDenied
from eventlog.security.permissions import BUILTIN_ROLES, Action, Permission, Role, allowed, check

ORDERS = Role("orders", (Permission(Action.READ, "orders-"), Permission(Action.WRITE, "orders-")))


def test_a_prefix_covers_the_streams_that_start_with_it_and_no_others() -> None:
    assert allowed([ORDERS], Action.WRITE, "orders-1")
    assert not allowed([ORDERS], Action.WRITE, "order-1")
    assert not allowed([ORDERS], Action.WRITE, "payments-1")
    assert not allowed([ORDERS], Action.LEASE, "orders-1")


def test_the_whole_log_needs_read_on_every_name() -> None:
    assert not allowed([ORDERS], Action.READ, None), "a prefix is not the whole log"
    assert allowed([BUILTIN_ROLES["reader"]], Action.READ, None)


@pytest.mark.parametrize(
    ("role", "action", "name", "expected"),
    [
        ("admin", Action.MANAGE_USERS, None, True),
        ("admin", Action.WRITE, "any", True),
        ("operator", Action.STATUS, None, True),
        ("operator", Action.BACKUP, None, True),
        ("operator", Action.MEMBERS, None, True),
        ("operator", Action.CHANGE_MEMBERS, None, False),
        ("operator", Action.READ, "s", False),
        ("reader", Action.READ, "s", True),
        ("reader", Action.WRITE, "s", False),
        ("writer", Action.WRITE, "s", True),
        ("writer", Action.LEASE, "projection:x", False),
    ],
)
def test_the_built_in_roles(role: str, action: Action, name: str | None, expected: bool) -> None:
    assert allowed([BUILTIN_ROLES[role]], action, name) is expected


def test_a_denial_names_the_user_the_permission_and_the_name() -> None:
    with pytest.raises(PermissionDenied) as denied:
        check("ann", [ORDERS], Action.WRITE, "payments-9")
    assert str(denied.value) == "user 'ann' may not write 'payments-9'"
    with pytest.raises(PermissionDenied, match="the whole log"):
        check("ann", [ORDERS], Action.READ)


def test_cluster_actions_take_no_prefix() -> None:
    with pytest.raises(ValueError, match="takes no name prefix"):
        Permission(Action.STATUS, "x")
