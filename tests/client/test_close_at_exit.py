"""A ``Client`` left open until the interpreter exits, and closed then by a finaliser (as an
``eventsourcing`` application's ``__del__`` closes its factory), lets the process end at
once, quietly: its loop's thread is stopped by then, so ``close`` must not wait for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cluster.harness import local_cluster

PROGRAM = """
from eventlog import Client, NewEvent

class Holder:
    def __init__(self, client):
        self.client = client

    def __del__(self):
        self.client.close()

holder = Holder(Client({addresses!r}))
holder.client.append("s", [NewEvent("T", b"")])
holder.itself = holder  # a cycle: collected at exit, after the threads are stopped
print("appended", flush=True)
"""


def test_a_client_closed_while_the_interpreter_exits_does_not_hang(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        cluster.leader(timeout=20)
        program = PROGRAM.format(addresses=cluster.addresses)
        done = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "appended\n"
    assert done.stderr == "", "nothing said on the way out"
