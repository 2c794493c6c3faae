"""``eventraft user`` and ``eventraft role`` against a cluster of processes over TLS: each
change says what it did, each refusal is one line and a non-zero exit, and a password never
travels on a command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cluster.harness import local_cluster


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventraft", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_users_and_roles_are_managed_from_the_command_line(tmp_path: Path) -> None:
    with local_cluster(tmp_path, tls=True) as cluster:
        cluster.leader(timeout=20)
        tls = tmp_path / "tls"
        admin = {
            **os.environ,
            "EVENTRAFT_TLS_CA": str(tls / "ca.pem"),
            "EVENTRAFT_TLS_CERT": str(tls / "admin.pem"),
            "EVENTRAFT_TLS_KEY": str(tls / "admin.key"),
        }
        at = ("--cluster", cluster.addresses)
        made = run(admin, "role", "add", *at, "clerk", "read:orders-", "write:orders-")
        assert (made.returncode, made.stdout) == (0, "role clerk added\n"), made.stderr
        added = run(admin, "user", "add", *at, "ann", "--role", "clerk", stdin="ann's pw\n")
        assert added.stdout == "user ann added with roles clerk\n", added.stderr
        (tmp_path / "bob.pw").write_text("bob's pw\n")
        bob = run(admin, "user", "add", *at, "bob", "--new-password-file", str(tmp_path / "bob.pw"))
        assert bob.returncode == 0, bob.stderr
        assert run(admin, "user", "grant", *at, "bob", "reader").returncode == 0
        users = [
            json.loads(line)
            for line in run(admin, "user", "list", *at, "--json").stdout.split("\n")
            if line
        ]
        assert users == [
            {"name": "admin", "password": False, "roles": ["admin"]},
            {"name": "ann", "password": True, "roles": ["clerk"]},
            {"name": "bob", "password": True, "roles": ["reader"]},
        ]
        roles = run(admin, "role", "list", *at).stdout
        assert "clerk" in roles and "read:orders-, write:orders-" in roles and "operator" in roles
        assert "ann's pw" not in run(admin, "user", "list", *at).stdout

        (tmp_path / "ann.pw").write_text("ann's pw\n")
        ann = {
            **os.environ,
            "EVENTRAFT_TLS_CA": str(tls / "ca.pem"),
            "EVENTRAFT_USER": "ann",
            "EVENTRAFT_PASSWORD_FILE": str(tmp_path / "ann.pw"),
        }
        wrote = run(ann, "append", *at, "orders-1", "--data", "{}")
        assert wrote.returncode == 0, wrote.stderr
        denied = run(ann, "append", *at, "payments-1", "--data", "{}")
        assert denied.returncode == 1
        assert denied.stderr == "Error: user 'ann' may not write 'payments-1'\n"
        as_bob = run(
            {**os.environ}, "read", *at, "--stream", "orders-1", "--tls-ca", str(tls / "ca.pem"),
            "--user", "bob", "--password-file", str(tmp_path / "bob.pw"),
        )  # fmt: skip
        assert as_bob.returncode == 0 and len(as_bob.stdout.splitlines()) == 1, as_bob.stderr

        unknown = run(admin, "user", "grant", *at, "bob", "auditor")
        assert (unknown.returncode, unknown.stderr) == (1, "Error: no role 'auditor'\n")
        last = run(admin, "user", "remove", *at, "admin")
        assert last.stderr == "Error: the cluster keeps at least one admin\n"
        bad = run(admin, "role", "grant", *at, "clerk", "fly:orders-")
        assert bad.returncode == 2 and "'fly' is no action" in bad.stderr
        empty = run(admin, "user", "add", *at, "carol", stdin="")
        assert empty.returncode == 2 and "no password on standard input" in empty.stderr
        plaintext = run({**os.environ}, "status", *at, "--user", "bob", "--password-file",
                        str(tmp_path / "bob.pw"))  # fmt: skip
        assert plaintext.returncode == 2 and "over TLS only" in plaintext.stderr
        assert run(admin, "user", "remove", *at, "ann").stdout == "user ann removed\n"
        gone = run(ann, "read", *at, "--stream", "orders-1")
        assert gone.stderr == "Error: wrong user name or password\n"
