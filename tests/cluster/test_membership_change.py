"""Changing a cluster of processes while it serves: a node added as a learner catches up
from a copy of the leader's store, is promoted, and the leader itself is removed; with the
history checker's rules (nothing acknowledged lost, nothing twice) and equal digests."""

from __future__ import annotations

from pathlib import Path

from eventlog import Client, MembershipError, NewEvent
from tests.cluster.harness import dump_logs, local_cluster, wait_for


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
