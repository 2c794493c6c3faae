"""A backup of a live cluster under load, restored into a new cluster: the new cluster has an
id of its own, holds exactly the backup's history (same position, same digest) and serves."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from eventlog import Client, NewEvent
from eventraft.localcluster import LocalCluster, NodeProcess
from tests.cluster.harness import dump_logs, free_ports, local_cluster


def eventraft(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "eventraft", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


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

    ports = free_ports(3)
    spec = ",".join(f"{i}=127.0.0.1:{ports[i - 1]}" for i in (1, 2, 3))
    nodes = {}
    for i in (1, 2, 3):
        data_dir = tmp_path / "new" / f"node-{i}"
        said = eventraft(
            "restore",
            "--from",
            str(tmp_path / "b"),
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
            log_path=tmp_path / "new" / f"node-{i}.log",
        )
    new = LocalCluster(nodes)
    try:
        for node in nodes.values():
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
