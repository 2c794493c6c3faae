"""A node joining a cluster of processes: a copy cut off mid-transfer leaves no store and is
taken again whole; a learner serves reads and subscriptions while the voters are frozen."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

from eventlog import Client, NewEvent
from tests.cluster.harness import dump_logs, local_cluster, wait_for
from tests.cluster.proxy import Proxy
from tests.cluster.test_membership_change import caught_up, under_load


def fill(client: Client, megabytes: int) -> None:
    for n in range(megabytes):
        client.append(f"big-{n % 3}", [NewEvent("E", os.urandom(10_000)) for _ in range(100)])


@pytest.mark.parametrize("crashed", ["joiner", "leader"])
def test_a_copy_cut_off_mid_transfer_leaves_no_store_and_is_taken_again_whole(
    tmp_path: Path, crashed: str
) -> None:
    """kill -9 mid-transfer of the node joining (it is started again) or of the leader
    sending the copy (the joiner takes it from the next leader)."""
    with local_cluster(tmp_path) as cluster, cluster.client(timeout=30) as client:
        try:
            fill(client, 24)
            leader = cluster.leader(timeout=20)
            proxy = Proxy(cluster.nodes[leader].port)
            with under_load(cluster), contextlib.ExitStack() as closing:
                closing.callback(proxy.close)
                new = cluster.joining(4, tmp_path, join=f"127.0.0.1:{proxy.port}")
                client.add_member(4, new.address)
                proxy.hold_after(4 << 20)  # of the 24 MB copy
                new.start()
                wait_for(lambda: proxy.forwarded >= 4 << 20, 60, "the copy to be under way")
                incoming = new.data_dir / "incoming" / "data.mdb"
                wait_for(lambda: incoming.exists() and incoming.stat().st_size > 0, 10, "bytes")
                if crashed == "joiner":
                    new.kill()  # mid-transfer: the copy is in incoming/, no store yet
                    assert not (new.data_dir / "data.mdb").exists()
                    proxy.hold(False)
                    new.start()
                else:
                    cluster.nodes[leader].kill()
                    proxy.hold(False)  # the copy's connection breaks
                wait_for(lambda: caught_up(client, 4), 60, "node 4 to catch up")
                if crashed == "leader":
                    cluster.nodes[leader].start()
            assert not (new.data_dir / "incoming").exists()
            log = new.log_path.read_text()
            assert log.count('"copy_installed"') == 1
            if crashed == "leader":
                assert '"copy_failed"' in log
            client.promote_member(4)
            client.append("after", [NewEvent("E", b"x")])
            statuses = cluster.wait_converged(timeout=30)
            assert len(statuses) == 4
            assert client.status().alarms == ()
        except BaseException:
            print(dump_logs(cluster))
            raise


def test_a_learner_serves_reads_and_subscriptions_while_the_voters_are_frozen(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path) as cluster, cluster.client(timeout=30) as client:
        for n in range(20):
            client.append("s", [NewEvent("E", str(n).encode())])
        learner = cluster.joining(4, tmp_path)
        client.add_member(4, learner.address)
        learner.start()
        wait_for(lambda: caught_up(client, 4), 60, "the learner to catch up")
        voters = [node for node_id, node in cluster.nodes.items() if node_id != 4]
        with Client([learner.address], timeout=30) as writer:
            result = writer.append("s", [NewEvent("E", b"through the learner")])
            assert result.last_position == 21, "a write given to a learner reaches the leader"
        with Client([learner.address], timeout=30) as replica:
            received: list[bytes] = []

            def subscribe() -> None:
                for _, event in zip(range(21), replica.subscribe(1), strict=False):
                    received.append(event.data)

            subscription = threading.Thread(target=subscribe)
            wait_for(lambda: replica.status().last_position >= 21, 30, "the learner to apply 21")
            for node in voters:
                node.pause()
            try:
                events = replica.read_all(min_position=21)
                assert [e.data for e in events][-1] == b"through the learner"
                assert len(replica.read_stream("s", min_position=21)) == 21
                subscription.start()
                subscription.join(timeout=30)
                assert len(received) == 21, "the learner alone served the subscription"
                status = replica.status()
                assert (status.id, status.role, status.learners) == (4, "follower", (4,))
            finally:
                for node in voters:
                    node.resume()
        cluster.wait_converged(timeout=30)
