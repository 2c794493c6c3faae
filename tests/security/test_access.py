"""The auth store: each change a pure function of the store before it, refused whole when it
breaks a rule, encoded and decoded alike; and the check every request passes."""

from __future__ import annotations

from typing import Any

import pytest

from eventlog.errors import (
    AccessChangeRefused,
    AuthenticationFailed,
    InvalidRequest,
    PermissionDenied,
)
from eventlog.security.access import (
    ADMIN,
    DEFAULT_ACCESS,
    AccessState,
    change,
    check_change,
)
from eventlog.security.passwords import hash_password
from eventlog.security.permissions import Action
from eventlog.security.principal import Principal

HASH = hash_password("pw", cost=(10, 8, 1))
OTHER_HASH = hash_password("other", cost=(10, 8, 1))


def applied(*changes: list[Any], state: AccessState = DEFAULT_ACCESS) -> AccessState:
    for body in changes:
        check_change(body)
        state = change(state, body)
    return state


def test_the_store_starts_with_admin_by_certificate_and_init_settles_it_once() -> None:
    assert DEFAULT_ACCESS.users[ADMIN].roles == (ADMIN,)
    assert DEFAULT_ACCESS.users[ADMIN].password_hash is None and not DEFAULT_ACCESS.settled
    settled = applied(["init", ADMIN, HASH])
    assert settled.settled and settled.users[ADMIN].password_hash == HASH
    assert applied(["init", ADMIN, OTHER_HASH], state=settled) is settled
    assert applied(["init", ADMIN, None]).users[ADMIN].password_hash is None


def test_users_and_roles_change_and_survive_encoding() -> None:
    state = applied(
        ["role_add", "clerk", [["read", "orders-"], ["write", "orders-"]]],
        ["user_add", "ann", [HASH, ["clerk"]]],
        ["user_grant", "ann", "reader"],
        ["role_grant", "clerk", ["lease", "projection-"]],
        ["role_revoke", "clerk", ["write", "orders-"]],
        ["user_passwd", "ann", OTHER_HASH],
    )
    ann = state.users["ann"]
    assert ann.roles == ("clerk", "reader") and ann.password_hash == OTHER_HASH
    assert [str(p) for p in state.roles["clerk"].permissions] == [
        "read on 'orders-'*",
        "lease on 'projection-'*",
    ]
    assert AccessState.decode(state.encode()) == state
    removed = applied(["role_remove", "clerk", None], state=state)
    assert "clerk" not in removed.roles and removed.users["ann"].roles == ("reader",)
    assert "ann" not in applied(["user_remove", "ann", None], state=removed).users


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (["user_add", ADMIN, [None, []]], "user_exists"),
        (["user_add", "ann", [None, ["auditor"]]], "no_such_role"),
        (["user_remove", "ann", None], "no_such_user"),
        (["user_passwd", "ann", HASH], "no_such_user"),
        (["user_grant", ADMIN, "auditor"], "no_such_role"),
        (["user_revoke", ADMIN, "reader"], "no_such_grant"),
        (["user_remove", ADMIN, None], "last_admin"),
        (["user_revoke", ADMIN, ADMIN], "last_admin"),
        (["role_add", "writer", []], "builtin_role"),
        (["role_grant", "admin", ["read", "x"]], "builtin_role"),
        (["role_remove", "reader", None], "builtin_role"),
        (["role_remove", "auditor", None], "no_such_role"),
        (["role_grant", "auditor", ["read", "x"]], "no_such_role"),
    ],
)
def test_a_change_that_breaks_a_rule_is_refused_and_changes_nothing(
    body: list[Any], reason: str
) -> None:
    check_change(body)
    with pytest.raises(AccessChangeRefused) as refused:
        change(DEFAULT_ACCESS, body)
    assert refused.value.reason == reason
    assert DEFAULT_ACCESS.users.keys() == {ADMIN} and not DEFAULT_ACCESS.roles


def test_a_second_admin_may_remove_the_first() -> None:
    state = applied(["user_add", "root", [HASH, [ADMIN]]], ["user_remove", ADMIN, None])
    assert list(state.users) == ["root"]


@pytest.mark.parametrize(
    "body",
    [
        ["user_drop", "ann", None],
        ["user_add", "", [None, []]],
        ["user_add", "a b", [None, []]],
        ["user_add", "x" * 129, [None, []]],
        ["user_add", "ann", ["plain text", []]],
        ["user_passwd", "ann", None],
        ["user_add", "ann", [None, "reader"]],
        ["role_add", "r", [["fly", ""]]],
        ["role_add", "r", [["status", "prefix-for-a-cluster-action"]]],
        ["role_add", "r", [["read", 7]]],
        ["role_grant", "r", "read"],
        ["user_remove", "ann", "extra"],
        "not a list",
    ],
)
def test_a_malformed_change_is_invalid(body: Any) -> None:
    with pytest.raises(InvalidRequest):
        check_change(body)


def test_a_caller_is_checked_against_the_store_as_it_stands() -> None:
    state = applied(
        ["role_add", "clerk", [["write", "orders-"]]], ["user_add", "ann", [HASH, ["clerk"]]]
    )
    ann = Principal.user("ann", HASH)
    ann.check(state, Action.WRITE, "orders-1")
    with pytest.raises(PermissionDenied, match="may not write 'payments-1'"):
        ann.check(state, Action.WRITE, "payments-1")
    with pytest.raises(PermissionDenied, match="may not read 'the whole log'"):
        ann.check(state, Action.READ)
    revoked = applied(["role_revoke", "clerk", ["write", "orders-"]], state=state)
    with pytest.raises(PermissionDenied):
        ann.check(revoked, Action.WRITE, "orders-1")
    with pytest.raises(AuthenticationFailed, match="password of user 'ann' changed"):
        ann.check(
            applied(["user_passwd", "ann", OTHER_HASH], state=state), Action.WRITE, "orders-1"
        )
    with pytest.raises(AuthenticationFailed, match="'ann' was removed"):
        ann.check(applied(["user_remove", "ann", None], state=state), Action.WRITE, "orders-1")
    certified = Principal.user("ann")  # signed in by certificate: a new password changes nothing
    certified.check(
        applied(["user_passwd", "ann", OTHER_HASH], state=state), Action.WRITE, "orders-1"
    )


def test_a_node_may_read_and_join_and_nothing_more_and_anyone_may_all_when_insecure() -> None:
    node = Principal.node(4)
    for action in (Action.STATUS, Action.MEMBERS, Action.BACKUP, Action.READ):
        node.check(DEFAULT_ACCESS, action)
    for action in (Action.WRITE, Action.CHANGE_MEMBERS, Action.MANAGE_USERS, Action.LEASE):
        with pytest.raises(PermissionDenied):
            node.check(DEFAULT_ACCESS, action, "s" if action.named else None)
    for action in Action:
        Principal.anyone().check(DEFAULT_ACCESS, action)
