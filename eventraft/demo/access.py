"""The demo's users and roles: the admin (signed in by its certificate) makes a teller, who
may write the accounts, and an auditor, who may only read; each signs in by password, and
what its role does not allow, or a wrong password, is refused with a typed error."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from eventlog.client import Client
from eventlog.errors import AuthenticationFailed, PermissionDenied
from eventlog.records import NewEvent
from eventlog.security.tls import TLSConfig
from eventraft.demo.bank import ALICE
from eventraft.demo.narration import Narrator
from eventraft.localcluster import LocalCluster


def sign_in_and_refuse(narrator: Narrator, cluster: LocalCluster, admin: Client, tls: Path) -> None:
    teller_password, auditor_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    admin.add_role("teller", [("read", "account-"), ("write", "account-")])
    admin.add_user("tom", teller_password, ["teller"])
    admin.add_user("ada", auditor_password, ["reader"])
    access = admin.access()
    table = Table("user", "roles", "signs in by", title="Users (eventraft user list)")
    for user in access.users:
        table.add_row(
            user.name, ", ".join(user.roles), "password" if user.password else "certificate"
        )
    narrator.show(table)
    ca = TLSConfig(ca=str(tls / "ca.pem"))
    results = Table("user", "call", "answer", title="Each call checked against the caller's roles")
    with Client(cluster.addresses, tls=ca, credentials=("tom", teller_password)) as tom:
        tom.append(ALICE, [NewEvent("MoneyDeposited", b'{"amount": 5}')])
        results.add_row("tom (teller)", f"append to {ALICE}", "[green]appended")
        tom_refused = _refused(lambda: tom.append("audit-log", [NewEvent("Note", b"{}")]))
        results.add_row("tom (teller)", "append to audit-log", f"[red]{tom_refused}")
    with Client(cluster.addresses, tls=ca, credentials=("ada", auditor_password)) as ada:
        read = len(ada.read_all())
        results.add_row("ada (reader)", "read the whole log", f"[green]{read} events")
        ada_refused = _refused(lambda: ada.append(ALICE, [NewEvent("MoneyWithdrawn", b"{}")]))
        results.add_row("ada (reader)", f"append to {ALICE}", f"[red]{ada_refused}")
    with Client(cluster.addresses, tls=ca, credentials=("ada", "a guess")) as guess:
        wrong = _refused(guess.status)
        results.add_row("ada, wrong password", "status", f"[red]{wrong}")
    narrator.show(results)
    narrator.check(
        "PermissionDenied" in tom_refused and "PermissionDenied" in ada_refused,
        "a write outside the caller's roles is refused, typed, and writes nothing",
    )
    narrator.check(
        wrong.startswith("AuthenticationFailed"), "a wrong password is refused at once, typed"
    )


def _refused(call: Callable[[], object]) -> str:
    try:
        call()
    except (PermissionDenied, AuthenticationFailed) as refused:
        return f"{type(refused).__name__}: {refused}"
    return "allowed"
