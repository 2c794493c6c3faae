"""``eventraft cluster`` watches its nodes: a node that dies is reported and the others go on;
SIGINT or SIGTERM stops them all; the exit code says whether a node failed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

from eventlog import Client, EventLogError, NewEvent, TLSConfig
from eventraft.supervisor import exit_reason
from tests.cli.commandline import (
    DEADLINE,
    free_base_port,
    processes_mentioning,
    running,
    wait_for,
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/cmdline").exists(), reason="finds node processes through /proc"
)


@attrs.frozen
class ClusterRun:
    process: subprocess.Popen[bytes]
    data: Path
    stderr: Path
    base_port: int

    def address(self, node_id: int) -> str:
        return f"127.0.0.1:{self.base_port + node_id - 1}"

    @property
    def tls(self) -> TLSConfig:
        """What the cluster made in its data dir, and said how to use."""
        return TLSConfig.from_dir(self.data / "tls", "admin")

    def node_pids(self, node_id: int) -> list[int]:
        return processes_mentioning(f"--data-dir {self.data}/node-{node_id} ")

    def said(self, text: str) -> str | None:
        """Everything the command wrote to standard error, once it contains ``text``."""
        written = self.stderr.read_text(errors="replace")
        return written if text in written else None

    def answers(self, node_id: int) -> bool:
        try:
            with Client([self.address(node_id)], timeout=0.5, tls=self.tls) as client:
                return client.status().leader != 0
        except EventLogError:
            return False

    def wait_for_leader(self) -> None:
        wait_for(lambda: all(map(self.answers, (1, 2, 3))), DEADLINE, "nodes that know a leader")


@contextmanager
def start_cluster(tmp_path: Path, *extra: str) -> Iterator[ClusterRun]:
    base = free_base_port(3)
    data = tmp_path / "data"
    args = ["cluster", "--data-dir", str(data), "--base-port", str(base), *extra]
    with running(args, tmp_path / "cluster.err", tmp_path) as process:
        yield ClusterRun(process, data, tmp_path / "cluster.err", base)


@pytest.fixture
def cluster_run(tmp_path: Path) -> Iterator[ClusterRun]:
    with start_cluster(tmp_path) as run:
        yield run


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_killed_node_is_reported_the_others_run_on_and_the_exit_code_says_so(
    cluster_run: ClusterRun, stop: int
) -> None:
    cluster_run.wait_for_leader()
    [pid] = cluster_run.node_pids(2)
    os.kill(pid, signal.SIGKILL)

    report = wait_for(
        lambda: cluster_run.said("node 2 (127.0.0.1:"), DEADLINE, "the report of node 2's exit"
    )
    assert f"node 2 ({cluster_run.address(2)}) exited: killed by SIGKILL" in report
    assert "2 of 3 nodes still running" in report
    assert f"last lines of {cluster_run.data}/node-2.log:" in report
    tail = report.split(f"last lines of {cluster_run.data}/node-2.log:\n", 1)[1].splitlines()
    assert any(json.loads(line.strip()).get("node_id") == 2 for line in tail if line.strip())

    assert cluster_run.process.poll() is None, "the command went on"
    assert cluster_run.node_pids(1) and cluster_run.node_pids(3)
    wait_for(lambda: cluster_run.answers(1) and cluster_run.answers(3), DEADLINE, "survivors")

    cluster_run.process.send_signal(stop)
    assert cluster_run.process.wait(timeout=DEADLINE) == 1
    assert "every node stopped; a node failed" in cluster_run.stderr.read_text()
    assert processes_mentioning(str(cluster_run.data)) == []


@pytest.mark.timeout(120)
def test_sigterm_stops_every_node_and_exits_0_when_none_failed(cluster_run: ClusterRun) -> None:
    cluster_run.wait_for_leader()
    cluster_run.process.send_signal(signal.SIGTERM)
    assert cluster_run.process.wait(timeout=DEADLINE) == 0, cluster_run.stderr.read_text()
    assert processes_mentioning(str(cluster_run.data)) == []
    for node_id in (1, 2, 3):
        logged = (cluster_run.data / f"node-{node_id}.log").read_text().splitlines()
        assert logged and {json.loads(line)["node_id"] for line in logged} == {node_id}
    assert "exited" not in cluster_run.stderr.read_text()


@pytest.mark.timeout(120)
def test_the_nodes_log_at_the_level_given_after_the_subcommand(tmp_path: Path) -> None:
    with start_cluster(tmp_path, "--log-level", "warning") as run:
        run.wait_for_leader()
        for node_id in (1, 2, 3):
            text = (run.data / f"node-{node_id}.log").read_text()
            levels = {json.loads(line)["level"] for line in text.splitlines() if line}
            assert levels <= {"warning", "error"}, text
        run.process.send_signal(signal.SIGINT)
        assert run.process.wait(timeout=DEADLINE) == 0


@pytest.mark.timeout(120)
def test_a_restarted_cluster_keeps_its_id_and_its_events(tmp_path: Path) -> None:
    with start_cluster(tmp_path) as first:
        first.wait_for_leader()
        assert first.said(f"over TLS: export EVENTRAFT_TLS_CA={first.data}/tls/ca.pem")
        with Client([first.address(1)], timeout=10, tls=first.tls) as client:
            client.append("kept", [NewEvent("E", b"1")])
            cluster_id = client.status().cluster_id
        first.process.send_signal(signal.SIGINT)
        assert first.process.wait(timeout=DEADLINE) == 0
    assert cluster_id and cluster_id != "eventraft", "a random id of its own"
    with start_cluster(tmp_path) as second:  # the same data dir, on other ports
        second.wait_for_leader()
        for node_id in (1, 2, 3):
            with Client(
                [second.address(node_id)], timeout=10, cluster_id=cluster_id, tls=second.tls
            ) as client:
                assert client.status().cluster_id == cluster_id
                assert [e.data for e in client.read_stream("kept")] == [b"1"]
        second.process.send_signal(signal.SIGINT)
        assert second.process.wait(timeout=DEADLINE) == 0, second.stderr.read_text()


def test_an_exit_reads_as_its_code_or_its_signal() -> None:
    assert exit_reason(1) == "exit code 1"
    assert exit_reason(-signal.SIGKILL) == "killed by SIGKILL"
    assert exit_reason(-200) == "killed by signal 200"
