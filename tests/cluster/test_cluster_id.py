"""A cluster knows its own id: a node refuses a directory of another cluster, a fresh set of
nodes started without an id is named by its first leader, and a client learns its cluster
from the first node it reaches and is told at once when it reaches another's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eventlog import Client, NewEvent, WrongCluster
from tests.cluster.harness import dump_logs, local_cluster, wait_for


def test_a_node_refuses_to_start_on_a_directory_of_another_cluster(tmp_path: Path) -> None:
    with local_cluster(tmp_path / "c") as c:
        c.leader(timeout=20)
        with c.client() as client:
            client.append("c-stream", [NewEvent("E", b"of c")])
        c.wait_converged()
    with local_cluster(tmp_path / "b") as b:
        b.leader(timeout=20)
        with b.client() as client:
            client.append("b-stream", [NewEvent("E", b"of b")])
        b.wait_converged()
        b.nodes[3].terminate()
        shutil.rmtree(b.nodes[3].data_dir)
        shutil.copytree(tmp_path / "c" / "node-3", b.nodes[3].data_dir)
        b.nodes[3].start()
        process = b.nodes[3].process
        assert process is not None
        assert process.wait(timeout=30) != 0
        log = b.nodes[3].log_path.read_text()
        assert "belongs to cluster" in log, dump_logs(b)
        assert "Traceback" not in log
        assert b.leader(timeout=20) in (1, 2)
        with b.client() as client:
            assert [e.stream for e in client.read_all()] == ["b-stream"]


def test_fresh_nodes_started_without_an_id_are_named_by_their_first_leader(
    tmp_path: Path,
) -> None:
    ids = []
    for name in ("one", "two"):
        with local_cluster(tmp_path / name, cluster_id=None) as cluster:
            cluster.leader(timeout=20)

            def named() -> set[str] | None:
                found = {s.cluster_id for s in cluster.statuses().values()}
                return found if len(found) == 1 and "" not in found else None

            [cluster_id] = wait_for(named, 20, "every node to know the cluster's id")
            cluster.nodes[2].terminate()
            cluster.nodes[2].start()
            wait_for(lambda: cluster.statuses().get(2), 20, "node 2 to serve again")
            assert cluster.status(2).cluster_id == cluster_id, "the id survives a restart"
            ids.append(cluster_id)
    assert ids[0] != ids[1]


def test_a_client_learns_its_cluster_and_is_told_at_once_on_reaching_another(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path / "b") as b, local_cluster(tmp_path / "c") as c:
        b.leader(timeout=20)
        c.leader(timeout=20)
        b_id = b.status(1).cluster_id
        addresses = [node.address for node in b.nodes.values()] + [c.nodes[1].address]
        with Client(addresses, timeout=30) as client:
            client.append("s", [NewEvent("E", b"1")])
            assert client.status().cluster_id == b_id
            for node in b.nodes.values():  # so the client moves on to the next address
                node.kill()
            with pytest.raises(WrongCluster) as wrong:  # not Unavailable after 30 s
                client.append("s", [NewEvent("E", b"2")])
            assert (wrong.value.expected, wrong.value.actual) == (b_id, c.status(1).cluster_id)


def test_a_client_pinned_to_another_cluster_gets_wrong_cluster_at_once(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        cluster.leader(timeout=20)
        actual = cluster.status(1).cluster_id
        pinned = Client(cluster.addresses, timeout=30, cluster_id="not-this-one")
        with pinned as client, pytest.raises(WrongCluster) as wrong:
            client.append("s", [NewEvent("E", b"1")])
        assert (wrong.value.expected, wrong.value.actual) == ("not-this-one", actual)
        with cluster.client() as client:
            assert client.read_all() == [], "nothing was appended"
