"""One writer per data directory: a live node's directory refuses a second writer, changes
nothing when it does, and can be read beside the node without a byte written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventlog import DataDirError, NewEvent, open_embedded
from tests.cluster.harness import LocalCluster, free_ports, local_cluster, wait_for


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path) as running:
        running.leader(timeout=20)
        yield running


def test_two_writable_opens_of_one_directory_refuse_the_second(tmp_path: Path) -> None:
    with open_embedded(tmp_path / "store") as store:
        store.append("s", [NewEvent("E", b"1")])
        with pytest.raises(DataDirError, match=r"in use by another process \(pid \d+\)"):
            open_embedded(tmp_path / "store")
        assert [event.data for event in store.read_all()] == [b"1"]
    with open_embedded(tmp_path / "store") as reopened:  # the lock went with its holder
        assert reopened.status().last_position == 1


def test_a_writable_open_beside_a_running_node_fails_and_changes_nothing(
    cluster: LocalCluster,
) -> None:
    with cluster.client() as client:
        client.append("s", [NewEvent("E", b"1")])
    before = cluster.wait_converged()[1]
    node = cluster.nodes[1]
    assert node.process is not None
    with pytest.raises(DataDirError) as refused:
        open_embedded(node.data_dir)
    assert str(node.data_dir) in str(refused.value)
    assert f"pid {node.process.pid}" in str(refused.value)
    after = cluster.wait_converged()[1]
    assert (after.last_index, after.digest, after.term) == (
        before.last_index,
        before.digest,
        before.term,
    )


def test_a_read_only_open_beside_a_live_node_reads_what_it_committed(
    cluster: LocalCluster,
) -> None:
    with cluster.client() as client:
        result = client.append("s", [NewEvent("E", b"1"), NewEvent("E", b"2")])
        committed = client.read_all()
    cluster.wait_converged()
    node = cluster.nodes[2]
    with open_embedded(node.data_dir, readonly=True) as reader:
        assert reader.read_all() == committed
        assert reader.read_stream("s")[-1].position == result.last_position
        status = reader.status()
        assert (status.role, status.last_position) == ("reader", result.last_position)
        with cluster.client() as client:
            later = client.append("s", [NewEvent("E", b"3")])
        wait_for(
            lambda: reader.status().last_position == later.last_position or None,
            10,
            "the reader to see the node's next append",
        )
    statuses = cluster.wait_converged()
    assert len({(s.last_index, s.digest) for s in statuses.values()}) == 1


def test_a_second_cluster_on_the_same_data_dir_exits_non_zero_naming_the_holder(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    data_dir = tmp_path
    base_port = free_ports(1)[0]
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "eventraft",
            "cluster",
            "--nodes",
            "3",
            "--data-dir",
            str(data_dir),
            "--base-port",
            str(base_port),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode != 0
    assert "in use by another process" in second.stderr
    assert "Traceback" not in second.stderr
    assert cluster.leader(timeout=10) in cluster.nodes  # the first cluster serves on
