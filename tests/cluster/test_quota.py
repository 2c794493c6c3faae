"""``--quota-bytes`` from the command line: a cluster past its quota refuses appends at once
with the NOSPACE alarm named, keeps serving reads, and ``status`` shows the alarm."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eventlog import NewEvent, StorageFull
from tests.cluster.harness import local_cluster, wait_for


def test_a_cluster_past_its_quota_refuses_appends_and_says_why(tmp_path: Path) -> None:
    with local_cluster(tmp_path, extra_args=("--quota-bytes", "1")) as c:
        c.leader(timeout=20)
        with c.client() as client:

            def refused() -> bool:
                try:
                    client.append("notes", [NewEvent("E", b"x")])
                except StorageFull as error:
                    return "NOSPACE alarm" in str(error) and "quota is 1" in str(error)
                return False

            wait_for(refused, 20, "appends refused for the quota")
            assert client.read_all() is not None  # reads go on
        done = subprocess.run(
            [sys.executable, "-m", "eventraft", "status", "--cluster", c.addresses, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        rows = [json.loads(line) for line in done.stdout.splitlines()]
        assert all(any(a["kind"] == "nospace" for a in row["alarms"]) for row in rows), rows
        command = ["append", "--cluster", c.addresses, "notes", "--data", "{}"]
        appended = subprocess.run(
            [sys.executable, "-m", "eventraft", *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert appended.returncode == 1 and "NOSPACE alarm" in appended.stderr
        with pytest.raises(StorageFull), c.client() as client:
            client.append("notes", [NewEvent("E", b"y")])
