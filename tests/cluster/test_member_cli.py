"""``eventraft member`` against a cluster of processes: each change prints the configuration
it made once committed, and each refusal is one typed line with a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cluster.harness import free_ports, local_cluster


def member(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventraft", "member", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_member_commands_print_what_they_made_or_one_line_saying_why_not(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        cluster.leader(timeout=20)
        addresses = cluster.addresses
        [port] = free_ports(1)
        added = member("add", "--cluster", addresses, "--id", "4", "--address",
                       f"127.0.0.1:{port}", "--learner", "--json")  # fmt: skip
        assert added.returncode == 0, added.stderr
        made = json.loads(added.stdout)
        assert (made["voters"], made["learners"]) == ([1, 2, 3], [4])
        assert made["addresses"]["4"] == f"127.0.0.1:{port}"
        listed = member("list", "--cluster", addresses, "--json")
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(r["id"], r["role"]) for r in rows] == [
            (1, "voter"), (2, "voter"), (3, "voter"), (4, "learner")
        ]  # fmt: skip
        behind = member("promote", "--cluster", addresses, "--id", "4")
        assert behind.returncode == 1
        assert "has not answered the leader" in behind.stderr
        assert len(behind.stderr.strip().splitlines()) == 1
        unknown = member("remove", "--cluster", addresses, "--id", "9")
        assert unknown.returncode == 1 and "node 9 is not a member" in unknown.stderr
        removed = member("remove", "--cluster", addresses, "--id", "4")
        assert removed.returncode == 0, removed.stderr
        assert "learner" not in removed.stdout and "voter" in removed.stdout
        reused = member("add", "--cluster", addresses, "--id", "4", "--address",
                        f"127.0.0.1:{port}")  # fmt: skip
        assert reused.returncode == 1 and "was a member before" in reused.stderr
