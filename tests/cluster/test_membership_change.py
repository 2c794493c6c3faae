"""Changing a cluster of processes while it serves: a node added as a learner catches up
from a copy of the leader's store, is promoted, and the leader itself is removed; with the
history checker's rules (nothing acknowledged lost, nothing twice) and equal digests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eventlog import Client, EventLogError, MembershipError, NewEvent
from tests.cluster.harness import LocalCluster, dump_logs, free_ports, local_cluster, wait_for
from tests.cluster.history import History
from tests.cluster.proxy import Proxy
from tests.cluster.test_cluster import check_every_node, run_writers


def caught_up(client: Client, node_id: int) -> bool:
    return any(m.id == node_id and m.lag == 0 for m in client.members())


def test_a_node_joins_from_a_copy_is_promoted_and_the_leader_is_removed(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster, cluster.client(timeout=30) as client:
        try:
            for n in range(50):
                client.append(f"s-{n % 5}", [NewEvent("E", str(n).encode())])
            new = cluster.joining(4, tmp_path)
            made = client.add_member(4, new.address)
            assert (made.voters, made.learners) == ((1, 2, 3), (4,))
            assert made.addresses[4] == new.address
            try:
                client.promote_member(4)
            except MembershipError as refused:
                assert refused.reason == "learner_behind"
            new.start()
            wait_for(lambda: caught_up(client, 4), 30, "node 4 to catch up")
            assert "copy_installed" in new.log_path.read_text()
            made = client.promote_member(4)
            assert (made.voters, made.learners) == ((1, 2, 3, 4), ())
            leader = cluster.leader(timeout=20)
            made = client.remove_member(leader)
            assert leader not in made.voters
            client.append("after", [NewEvent("E", b"x")])
            cluster.nodes[leader].terminate()
            del cluster.nodes[leader]
            statuses = cluster.wait_converged(timeout=30)
            assert {s.last_position for s in statuses.values()} == {51}
            assert all(s.voters == made.voters for s in statuses.values())
        except BaseException:
            print(dump_logs(cluster))
            raise


def replace_with_learner(cluster: LocalCluster, client: Client, node_id: int, root: Path) -> None:
    """Add ``node_id`` as a learner, start it with an empty directory, promote it."""
    new = cluster.joining(node_id, root)
    client.add_member(node_id, new.address)
    new.start()
    wait_for(lambda: caught_up(client, node_id), 60, f"node {node_id} to catch up")
    made = client.promote_member(node_id)
    assert node_id in made.voters


def drop(cluster: LocalCluster, client: Client, node_id: int) -> None:
    made = client.remove_member(node_id)
    assert node_id not in made.voters + made.learners
    cluster.nodes.pop(node_id).kill()


@contextmanager
def under_load(cluster: LocalCluster) -> Iterator[History]:
    """Four writers append while the body changes the cluster; after it, 100 more appends
    must be acknowledged, then the history is checked against every node's log."""
    history, stop = History(), threading.Event()
    load = threading.Thread(target=run_writers, args=(cluster, history, 4, 100_000, stop, 30))
    load.start()
    try:
        wait_for(lambda: len(history.acknowledged) > 100, 30, "load to start")
        yield history
        before = len(history.acknowledged)
        wait_for(lambda: len(history.acknowledged) > before + 100, 30, "more appends")
    finally:
        stop.set()
        load.join(timeout=120)
    check_every_node(cluster, history)


def test_a_dead_follower_is_replaced_under_load(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster, cluster.client(timeout=30) as client:
        with under_load(cluster):
            leader = cluster.leader(timeout=20)
            dead = next(n for n in cluster.nodes if n != leader)
            cluster.nodes[dead].kill()
            drop(cluster, client, dead)
            replace_with_learner(cluster, client, 4, tmp_path)
        assert all(s.voters == (*sorted(set(cluster.nodes)),) for s in cluster.statuses().values())


def test_a_cluster_grows_to_five_and_shrinks_to_three_removing_its_leader_under_load(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path) as cluster, cluster.client(timeout=30) as client:
        with under_load(cluster):
            for node_id in (4, 5):
                replace_with_learner(cluster, client, node_id, tmp_path)
            assert client.status().voters == (1, 2, 3, 4, 5)
            drop(cluster, client, cluster.leader(timeout=20))
            drop(cluster, client, next(n for n in sorted(cluster.nodes)))
        assert len(cluster.nodes) == 3
        assert all(s.voters == (*sorted(cluster.nodes),) for s in cluster.statuses().values())


def test_a_removed_node_restarted_with_its_old_directory_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path) as cluster, cluster.client(timeout=30) as client:
        client.append("s", [NewEvent("E", b"before")])
        cluster.wait_converged(timeout=20)  # the node to remove applied it too
        leader = cluster.leader(timeout=20)
        removed = next(n for n in cluster.nodes if n != leader)
        old = cluster.nodes[removed]
        old.kill()
        client.remove_member(removed)  # while it is down: it never hears of its removal
        del cluster.nodes[removed]
        terms = {n: s.term for n, s in cluster.statuses().items()}
        with under_load(cluster):
            old.start()
            others = list(cluster.nodes.values())
            wait_for(
                lambda: any(
                    f"node {removed} is not a peer" in n.log_path.read_text() for n in others
                ),
                30,
                "the members to refuse the removed node",
            )
        statuses = cluster.wait_converged(timeout=30)
        assert {n: s.term for n, s in statuses.items()} == {n: terms[n] for n in statuses}
        assert cluster.leader(timeout=5) == leader
        with Client([old.address], timeout=5) as stray:
            assert stray.status().last_position == 1, "it got nothing after its removal"
        old.kill()


@pytest.mark.parametrize("fate", ["killed", "cut off"])
def test_a_leader_lost_right_after_it_proposed_a_change_leaves_one_configuration(
    tmp_path: Path, fate: str
) -> None:
    """The followers are frozen, so the change is only in the leader's log when the leader
    is killed (or frozen: cut off from everyone). The caller's retry reaches the next
    leader; every member ends with the same configuration, and changes go on."""
    with local_cluster(tmp_path) as cluster, cluster.client(timeout=30) as client:
        try:
            client.append("s", [NewEvent("E", b"before")])
            leader = cluster.leader(timeout=20)
            old = cluster.nodes[leader]
            followers = [node for n, node in cluster.nodes.items() if n != leader]
            new = cluster.joining(4, tmp_path)
            outcome: dict[str, object] = {}

            def add() -> None:
                with Client([old.address], timeout=60) as caller:
                    try:
                        outcome["made"] = caller.add_member(4, new.address)
                    except EventLogError as error:
                        outcome["error"] = error

            with under_load(cluster):
                for node in followers:
                    node.pause()
                adding = threading.Thread(target=add)
                adding.start()
                proposed = '"membership_proposed"'
                wait_for(lambda: proposed in old.log_path.read_text(), 20, "a proposal")
                old.kill() if fate == "killed" else old.pause()
                for node in followers:
                    node.resume()
                adding.join(timeout=120)
                assert "made" in outcome, outcome
                old.start() if fate == "killed" else old.resume()
                new.start()
                wait_for(lambda: caught_up(client, 4), 60, "node 4 to catch up")
                made = client.promote_member(4)
                assert made.voters == (1, 2, 3, 4)
            statuses = cluster.wait_converged(timeout=30)
            assert {(s.voters, s.learners) for s in statuses.values()} == {((1, 2, 3, 4), ())}
        except BaseException:
            print(dump_logs(cluster))
            raise


def test_a_leader_partitioned_from_its_peers_mid_change_leaves_one_configuration(
    tmp_path: Path,
) -> None:
    """The leader's links to its peers are cut (clients still reach it), then it is asked to
    add a learner: the entry is only in its log. It steps down (check-quorum), the caller's
    retry reaches the majority's leader, and after the heal the cut-off entry is gone."""
    listen = free_ports(3)
    proxies = {(i, j): Proxy(listen[j - 1]) for i in (1, 2, 3) for j in (1, 2, 3) if i != j}
    dial = [proxies[(i, j)].port if i != j else listen[j - 1] for i in (1, 2, 3) for j in (1, 2, 3)]
    try:
        with local_cluster(tmp_path, 3, ports=listen, dial_ports=dial) as cluster:
            try:
                leader = cluster.leader(timeout=20)
                with cluster.client(timeout=30) as client:
                    client.append("s", [NewEvent("E", b"before")])
                with under_load(cluster):
                    for (i, j), proxy in proxies.items():
                        proxy.set_cut(leader in (i, j))
                    new = cluster.joining(4, tmp_path)
                    others = [node.address for n, node in cluster.nodes.items() if n != leader]
                    with Client([cluster.nodes[leader].address, *others], timeout=60) as caller:
                        made = caller.add_member(4, new.address)
                    assert made.learners == (4,)
                    assert '"membership_proposed"' in cluster.nodes[leader].log_path.read_text()
                    for proxy in proxies.values():
                        proxy.set_cut(False)
                    new.start()
                    with cluster.client(timeout=30) as client:
                        wait_for(lambda: caught_up(client, 4), 60, "node 4 to catch up")
                statuses = cluster.wait_converged(timeout=30)
                assert {(s.voters, s.learners) for s in statuses.values()} == {((1, 2, 3), (4,))}
            except BaseException:
                print(dump_logs(cluster))
                raise
    finally:
        for proxy in proxies.values():
            proxy.close()
