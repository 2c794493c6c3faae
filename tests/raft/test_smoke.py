from eventlog.raft.ready import Role
from tests.raft.harness import Network


def test_three_nodes_elect_and_commit() -> None:
    net = Network.create(3)
    net.elect(1)
    net.propose(1, b"a", b"b")
    for node in (1, 2, 3):
        assert net.host(node).applied_data == [b"a", b"b"]
    assert net.core(2).role is Role.FOLLOWER
