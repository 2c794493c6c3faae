"""Real clusters of node processes on 127.0.0.1: load, crashes, pauses, partitions, restarts,
garbage on the wire. Every process and port is cleaned up by the fixtures, even on failure."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

from eventlog.client import Client
from eventlog.errors import EventLogError, Unavailable
from eventlog.records import NewEvent
from tests.cluster.harness import LocalCluster, dump_logs, local_cluster, wait_for
from tests.cluster.history import History
from tests.cluster.proxy import Proxy


def run_writers(
    cluster: LocalCluster,
    history: History,
    writers: int,
    appends: int,
    stop: threading.Event | None = None,
    timeout: float = 15.0,
) -> None:
    """``writers`` threads, each with its own client, appending single events."""

    def writer(n: int) -> None:
        with Client(cluster.addresses, timeout=timeout) as client:
            for i in range(appends):
                if stop is not None and stop.is_set():
                    return
                payload = f"w{n}-{i}-{os.urandom(4).hex()}".encode()
                op = history.invoke(f"writer-{n}", [payload], None)
                try:
                    history.ok(op, client.append(f"writer-{n}", [NewEvent("T", payload)]))
                except EventLogError as error:
                    history.fail(op, error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)


def check_every_node(cluster: LocalCluster, history: History) -> None:
    statuses = cluster.wait_converged()
    last = next(iter(statuses.values())).last_position
    logs = []
    for node in cluster.nodes.values():
        if node.running:
            with Client([node.address], timeout=10) as client:
                logs.append(client.read_all(min_position=last))
    assert all(log == logs[0] for log in logs), "nodes disagree on the history"
    problems = history.check(logs[0])
    assert not problems, "\n".join(problems[:10]) + "\n" + dump_logs(cluster)


def test_a_thousand_appends_from_eight_clients(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        cluster.leader(timeout=20)
        history = History()
        run_writers(cluster, history, writers=8, appends=125)
        assert len(history.acknowledged) == 1000, [op.failed for op in history.operations][:5]
        check_every_node(cluster, history)


def test_kill_the_leader_under_load(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        old = cluster.leader(timeout=20)
        history, stop = History(), threading.Event()
        load = threading.Thread(target=run_writers, args=(cluster, history, 4, 400, stop))
        load.start()
        wait_for(lambda: len(history.acknowledged) > 100, 30, "load to start")
        cluster.nodes[old].kill()
        new = cluster.leader(timeout=2.0, among=set(cluster.nodes) - {old})
        # The survivors took the closed connection for their leader's death, not a timeout.
        gone = wait_for(lambda: saw_leader_gone(cluster, old), 10, "a survivor's leader_gone")
        assert gone != old
        before = len(history.acknowledged)
        wait_for(lambda: len(history.acknowledged) > before, 2.0, "the new leader to commit")
        stop.set()
        load.join(timeout=120)
        cluster.nodes[old].start()
        assert new != old
        check_every_node(cluster, history)


def test_a_paused_leader_steps_down_and_acknowledges_nothing_it_could_not_commit(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path) as cluster:
        old = cluster.leader(timeout=20)
        history = History()
        run_writers(cluster, history, writers=2, appends=20)
        cluster.nodes[old].pause()
        try:
            # A client that only knows the paused leader sends it a write meanwhile.
            stuck = threading.Thread(target=_write_to, args=(cluster, old, history))
            stuck.start()
            cluster.leader(timeout=10, among=set(cluster.nodes) - {old})
            run_writers(cluster, history, writers=2, appends=20)
        finally:
            cluster.nodes[old].resume()
        stuck.join(timeout=60)
        wait_for(lambda: cluster.status(old).role == "follower", 10, "the old leader to step down")
        check_every_node(cluster, history)


def _write_to(cluster: LocalCluster, node_id: int, history: History) -> None:
    with Client([cluster.nodes[node_id].address], timeout=20) as client:
        op = history.invoke("paused", [b"sent-to-paused-leader"], None)
        try:
            history.ok(op, client.append("paused", [NewEvent("T", b"sent-to-paused-leader")]))
        except EventLogError as error:
            history.fail(op, error)


def test_a_minority_partition_cannot_write_while_the_majority_commits(tmp_path: Path) -> None:
    size = 3
    from tests.cluster.harness import free_ports

    listen = free_ports(size)
    proxies = {(i, j): Proxy(listen[j - 1]) for i in range(1, 4) for j in range(1, 4) if i != j}
    dial = [
        proxies[(i, j)].port if i != j else listen[j - 1] for i in range(1, 4) for j in range(1, 4)
    ]
    try:
        with local_cluster(tmp_path, size, ports=listen, dial_ports=dial) as cluster:
            leader = cluster.leader(timeout=20)
            history = History()
            run_writers(cluster, history, writers=2, appends=10)
            for (i, j), proxy in proxies.items():
                proxy.set_cut(leader in (i, j))
            majority = set(cluster.nodes) - {leader}
            cluster.leader(timeout=10, among=majority)
            with Client([cluster.nodes[leader].address], timeout=1.5) as client:
                try:
                    client.append("minority", [NewEvent("T", b"must-not-commit")])
                    raise AssertionError("the cut-off node accepted a write")
                except Unavailable:
                    pass
            run_writers(cluster, history, writers=2, appends=20)
            for proxy in proxies.values():
                proxy.set_cut(False)
            check_every_node(cluster, history)
            with Client(cluster.addresses, timeout=10) as client:
                assert all(e.data != b"must-not-commit" for e in client.read_all())
    finally:
        for proxy in proxies.values():
            proxy.close()


def test_restarting_the_whole_cluster_keeps_every_event(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        cluster.leader(timeout=20)
        history = History()
        run_writers(cluster, history, writers=4, appends=50)
        before = cluster.wait_converged()
        for node in cluster.nodes.values():
            assert node.terminate() == 0
        for node in cluster.nodes.values():
            node.start()
        # Before anything new commits, each node already reports what it applied last time:
        # its indexes were persisted with applied_index, nothing is replayed.
        for node_id in cluster.nodes:
            status = wait_for(lambda n=node_id: cluster.status(n), 10, f"node {node_id} to serve")
            assert status.applied_index >= before[node_id].applied_index
            assert status.last_position == before[node_id].last_position
        cluster.leader(timeout=20)
        check_every_node(cluster, history)


def test_garbage_on_the_wire_closes_one_connection_only(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        leader = cluster.leader(timeout=20)
        history = History()
        port = cluster.nodes[leader].port
        attacks = [
            os.urandom(4096),
            struct.pack(">I", 1 << 31) + b"\x01",  # oversized length
            struct.pack(">I", 100) + b"\x01\x93",  # truncated, then closed
            struct.pack(">I", 3) + b"\x09ab",  # unknown frame version
            struct.pack(">I", 2) + b"\x01\xc1",  # not msgpack
        ]
        for attack in attacks:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(attack)
        run_writers(cluster, history, writers=2, appends=25)
        assert len(history.acknowledged) == 50
        assert all(node.running for node in cluster.nodes.values())
        check_every_node(cluster, history)


def test_a_read_waiting_on_a_leader_that_stops_is_answered_by_the_next(tmp_path: Path) -> None:
    """A follower forwards a linearizable read to its leader; if that leader stops answering,
    the read must not wait out the caller's deadline but go to the leader elected next."""
    with local_cluster(tmp_path) as cluster:
        leader = cluster.leader(timeout=20)
        follower = next(n for n in cluster.nodes if n != leader)
        with cluster.client() as client:
            client.append("before-the-stop", [NewEvent("T", b"kept")])
        cluster.nodes[leader].pause()
        try:
            with Client([cluster.nodes[follower].address], timeout=8) as client:
                events = client.read_stream("before-the-stop")
            assert [event.data for event in events] == [b"kept"]
        finally:
            cluster.nodes[leader].resume()


def test_sigterm_with_clients_connected_stops_every_node_cleanly(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        cluster.leader(timeout=20)
        history = History()
        stop = threading.Event()
        load = threading.Thread(
            target=run_writers, args=(cluster, history, 3, 10_000, stop, 3.0), daemon=True
        )
        load.start()
        wait_for(lambda: len(history.acknowledged) >= 30 or None, 20, "appends under way")
        codes = [node.terminate() for node in cluster.nodes.values()]
        stop.set()
        load.join(timeout=30)
        assert codes == [0, 0, 0], dump_logs(cluster)
        for node in cluster.nodes.values():
            log = node.log_path.read_text(errors="replace")
            assert "Traceback" not in log, log[-3000:]


PARENT = """
import signal, sys
from pathlib import Path
from eventraft.localcluster import local_cluster
with local_cluster(Path(sys.argv[1])) as cluster:
    cluster.leader(timeout=20)
    print(" ".join(str(node.process.pid) for node in cluster.nodes.values()), flush=True)
    signal.pause()  # until the test kills this process
"""


def test_nodes_stop_when_the_process_that_started_them_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 3
        parent.kill()  # SIGKILL: its context managers never run
        parent.wait(timeout=10)
        wait_for(lambda: not any(alive(pid) for pid in pids) or None, 20, "nodes to stop")
    finally:
        parent.kill()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def saw_leader_gone(cluster: LocalCluster, leader: int) -> int | None:
    """A node whose log says it saw ``leader`` go, if any."""
    for node_id, node in cluster.nodes.items():
        for line in node.log_path.read_text(errors="replace").splitlines():
            if '"leader_gone"' in line and f'"leader": {leader}' in line:
                return node_id
    return None


def alive(pid: int) -> bool:
    """Running and not a zombie (a reaped or zombie process no longer serves)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
