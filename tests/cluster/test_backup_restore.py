"""A backup of a live cluster under load, restored into a new cluster: the new cluster has an
id of its own, holds exactly the backup's history (same position, same digest) and serves."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from eventlog import Client, NewEvent, Tracking, TrackingConflict
from eventraft.localcluster import LocalCluster, NodeProcess
from tests.cluster.harness import dump_logs, free_ports, local_cluster


def eventraft(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "eventraft", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def restored(backup: Path, directory: Path) -> LocalCluster:
    """A new cluster of three nodes in ``directory``, each restored from ``backup`` (not
    started yet)."""
    ports = free_ports(3)
    spec = ",".join(f"{i}=127.0.0.1:{ports[i - 1]}" for i in (1, 2, 3))
    nodes = {}
    for i in (1, 2, 3):
        data_dir = directory / f"node-{i}"
        said = eventraft(
            "restore",
            "--from",
            str(backup),
            "--data-dir",
            str(data_dir),
            "--id",
            str(i),
            "--cluster",
            spec,
        )
        assert f"as node {i} of cluster" in said
        nodes[i] = NodeProcess(
            node_id=i,
            port=ports[i - 1],
            data_dir=data_dir,
            cluster_map=spec,
            log_path=directory / f"node-{i}.log",
        )
    return LocalCluster(nodes)


def test_a_backup_taken_under_load_restores_into_a_new_cluster_at_its_position(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path / "old") as old, old.client(timeout=30) as client:
        for n in range(100):
            client.append("before", [NewEvent("E", str(n).encode())])
        stop = threading.Event()

        def write() -> None:
            with old.client(timeout=30) as writer:
                n = 0
                while not stop.is_set():
                    writer.append(f"load-{n % 7}", [NewEvent("E", str(n).encode())])
                    n += 1

        load = threading.Thread(target=write)
        load.start()
        try:
            printed = eventraft(
                "backup", "--cluster", old.addresses, "--out", str(tmp_path / "b"), "--json"
            )
            from_dir = eventraft(
                "backup", "--data-dir", str(old.nodes[1].data_dir), "--out", str(tmp_path / "d")
            )
        finally:
            stop.set()
            load.join()
        old_id = client.status().cluster_id
    manifest = json.loads(printed)
    assert manifest["cluster_id"] == old_id and manifest["last_position"] >= 100
    assert json.loads((tmp_path / "b" / "manifest.json").read_text()) == manifest
    assert "backed up cluster" in from_dir

    new = restored(tmp_path / "b", tmp_path / "new")
    try:
        for node in new.nodes.values():
            node.start()
        first = new.wait_converged(timeout=30)
        assert {(s.last_position, s.digest) for s in first.values()} == {
            (manifest["last_position"], manifest["digest"])
        }
        new_ids = {s.cluster_id for s in first.values()}
        assert len(new_ids) == 1 and old_id not in new_ids
        assert all(s.voters == (1, 2, 3) for s in first.values())
        with Client(new.addresses, timeout=30) as client:
            assert [e.data for e in client.read_stream("before")][:3] == [b"0", b"1", b"2"]
            result = client.append("after", [NewEvent("E", b"new")])
            assert result.first_position == manifest["last_position"] + 1
    except BaseException:
        print(dump_logs(new))
        raise
    finally:
        new.stop()


def test_tracking_records_backed_up_are_held_by_every_node_of_the_restored_cluster(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path / "old") as old, old.client(timeout=30) as client:
        client.append("orders-1", [NewEvent("E", b"0")], tracking=Tracking("saga", 7))
        client.append_multi([("orders-1", [NewEvent("E", b"1")], 1)], tracking=Tracking("saga", 9))
        client.append("orders-2", [NewEvent("E", b"2")], tracking=Tracking("billing", 3))
        client.append_multi([], tracking=Tracking("shipping", 4))  # the record alone, last
        recorded = {name: client.max_tracking(name) for name in ("saga", "billing", "shipping")}
        assert recorded == {"saga": 9, "billing": 3, "shipping": 4}
        manifest = json.loads(
            eventraft("backup", "--cluster", old.addresses, "--out", str(tmp_path / "b"), "--json")
        )
    new = restored(tmp_path / "b", tmp_path / "new")
    try:
        for node in new.nodes.values():
            node.start()
        new.wait_converged(timeout=30)
        for node in new.nodes.values():  # each node answers from its own store
            with Client([node.address], timeout=30) as at_node:
                last = manifest["last_position"]
                held = {name: at_node.max_tracking(name, min_position=last) for name in recorded}
                assert held == recorded
                assert at_node.max_tracking("never", min_position=last) is None
        with Client(new.addresses, timeout=30) as client:
            assert client.has_tracking("saga", 9) and not client.has_tracking("saga", 10)
            for name, position in (("saga", 8), ("saga", 9), ("shipping", 1)):
                with pytest.raises(TrackingConflict) as conflict:
                    client.append(
                        "orders-1", [NewEvent("E", b"again")], tracking=Tracking(name, position)
                    )
                caught = conflict.value
                assert (caught.name, caught.position, caught.recorded) == (
                    name,
                    position,
                    recorded[name],
                )
            with pytest.raises(TrackingConflict):
                client.append_multi([], tracking=Tracking("billing", 3))
            assert [e.data for e in client.read_all()] == [b"0", b"1", b"2"]
            client.append("orders-1", [NewEvent("E", b"3")], tracking=Tracking("saga", 10))
            assert client.max_tracking("saga") == 10
    except BaseException:
        print(dump_logs(new))
        raise
    finally:
        new.stop()
