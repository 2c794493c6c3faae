"""Membership changes through the log, one server at a time (thesis chapter 4), and learners
that receive the log and never vote, campaign or count toward a quorum."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventlog.errors import FrameError
from eventlog.raft.codec import unpack_message
from eventlog.raft.core import RaftCore
from eventlog.raft.membership import Change, ChangeKind, Membership, MembershipError, Memberships
from eventlog.raft.messages import AppendEntries
from eventlog.raft.ready import Role
from eventlog.raft.records import Entry, EntryKind
from eventlog.raft.storage import MemoryStorage
from eventlog.types import LogIndex, NodeId, Term
from tests.raft.harness import Network

ELECTION = 15


def with_node(net: Network, node: int) -> None:
    """A new server with an empty log, started with the cluster's first configuration."""
    net.hosts[NodeId(node)] = net._boot(NodeId(node), MemoryStorage())


def change(net: Network, leader: int, kind: ChangeKind, node: int) -> None:
    net.core(leader).propose_change(Change(kind, NodeId(node)))
    net.stabilize()


def cluster_with_learner() -> Network:
    net = Network.create(3)
    net.elect(1)
    with_node(net, 4)
    change(net, 1, ChangeKind.ADD_LEARNER, 4)
    return net


def test_a_learner_gets_the_log_and_its_configuration() -> None:
    net = cluster_with_learner()
    net.propose(1, b"a")
    assert net.host(4).applied_data == [b"a"]
    for node in (1, 2, 3, 4):
        assert net.core(node).membership == Membership.of([1, 2, 3], [4])


def test_a_learner_counts_toward_no_quorum_and_never_campaigns() -> None:
    net = cluster_with_learner()
    net.isolate(2)
    net.isolate(3)
    net.propose(1, b"needs a majority of voters")
    assert net.core(4).log.last_index() == net.core(1).log.last_index()
    assert net.host(1).applied_data == [], "1 and the learner are not a majority of 3 voters"
    net.heal()
    net.isolate(1)
    net.tick_all(6 * ELECTION, nodes=[4])
    assert net.core(4).role is Role.FOLLOWER and net.core(4).term == net.core(1).term


def test_a_learner_far_behind_is_not_promoted_and_is_once_it_caught_up() -> None:
    net = cluster_with_learner()
    net.isolate(4)
    for n in range(150):
        net.propose(1, b"%d" % n)
    with pytest.raises(MembershipError, match="150 entries behind") as refused:
        net.core(1).propose_change(Change(ChangeKind.PROMOTE, NodeId(4)))
    assert refused.value.code == "learner_behind"
    net.heal()
    net.tick_all(2 * ELECTION)
    change(net, 1, ChangeKind.PROMOTE, 4)
    assert net.core(4).membership == Membership.of([1, 2, 3, 4])
    net.isolate(2)
    net.isolate(3)
    net.propose(1, b"1 and 4 are not 3 of 4")
    assert net.host(1).applied_data[-1] != b"1 and 4 are not 3 of 4"


def test_one_change_at_a_time_and_only_after_a_commit_of_the_leader_s_term() -> None:
    net = Network.create(3)
    with_node(net, 4)
    with_node(net, 5)
    net.drop = lambda m: isinstance(m, AppendEntries)  # votes pass, its no-op does not
    net.elect(1)
    leader = net.core(1)
    assert leader.log.committed < leader.log.last_index()
    with pytest.raises(MembershipError) as early:
        leader.propose_change(Change(ChangeKind.ADD_LEARNER, NodeId(4)))
    assert early.value.code == "not_committed_in_term"
    net.heal()
    net.tick_all(2 * ELECTION)
    assert leader.log.committed == leader.log.last_index()
    net.isolate(1)  # nothing it proposes now commits
    leader.propose_change(Change(ChangeKind.ADD_LEARNER, NodeId(4)))
    with pytest.raises(MembershipError) as second:
        leader.propose_change(Change(ChangeKind.ADD_LEARNER, NodeId(5)))
    assert second.value.code == "in_flight"
    net.heal()
    net.tick_all(2 * ELECTION)
    change(net, 1, ChangeKind.ADD_LEARNER, 5)  # once the first committed
    assert net.core(5).membership == Membership.of([1, 2, 3], [4, 5])


def test_changes_that_make_no_sense_are_refused_by_name() -> None:
    net = Network.create(3)
    net.elect(1)
    for kind, node, code in [
        (ChangeKind.ADD_LEARNER, 2, "already_member"),
        (ChangeKind.PROMOTE, 2, "not_learner"),
        (ChangeKind.REMOVE, 9, "unknown_id"),
    ]:
        with pytest.raises(MembershipError) as refused:
            net.core(1).propose_change(Change(kind, NodeId(node)))
        assert refused.value.code == code
    single = Network.create(1)
    single.elect(1)
    with pytest.raises(MembershipError) as last:
        single.core(1).propose_change(Change(ChangeKind.REMOVE, NodeId(1)))
    assert last.value.code == "last_voter"


def test_removing_the_leader_it_steps_down_once_committed_and_the_rest_go_on() -> None:
    net = Network.create(3)
    net.elect(1)
    net.propose(1, b"before")
    change(net, 1, ChangeKind.REMOVE, 1)
    assert net.core(1).role is Role.FOLLOWER, "it stepped down once its removal committed"
    for node in (2, 3):
        assert net.core(node).membership == Membership.of([2, 3])
    net.tick_until(lambda: net.leader_among([2, 3]) is not None, 6 * ELECTION, nodes=[2, 3])
    leader = net.leader_among([2, 3])
    assert leader is not None
    net.propose(leader, b"after")
    assert net.host(2).applied_data == net.host(3).applied_data == [b"before", b"after"]
    net.tick_all(6 * ELECTION, nodes=[1])  # the removed node never campaigns
    assert net.core(1).role is Role.FOLLOWER


def test_a_configuration_truncated_away_is_no_longer_in_force() -> None:
    net = Network.create(3)
    net.elect(1)
    with_node(net, 4)
    net.isolate(1)
    net.core(1).propose_change(Change(ChangeKind.ADD_LEARNER, NodeId(4)))
    net.stabilize()
    assert net.core(1).membership == Membership.of([1, 2, 3], [4]), "in force once appended"
    net.tick_until(lambda: net.leader_among([2, 3]) is not None, 6 * ELECTION, nodes=[2, 3])
    leader = net.leader_among([2, 3])
    assert leader is not None
    net.propose(leader, b"the new leader's")
    net.heal()
    net.tick_all(3 * ELECTION)
    assert net.core(1).membership == Membership.of([1, 2, 3]), "its entry was replaced"
    assert net.host(1).applied_data == [b"the new leader's"]


def test_a_restarted_node_takes_its_configuration_from_its_log() -> None:
    net = cluster_with_learner()
    change(net, 1, ChangeKind.PROMOTE, 4)
    host = net.host(2)
    reopened = RaftCore.open(net.config_for(NodeId(2)), host.storage, host.core.rng)
    assert reopened.membership == Membership.of([1, 2, 3, 4])
    assert reopened.peers == [NodeId(1), NodeId(3), NodeId(4)]


def test_a_removed_node_s_id_is_never_given_to_another() -> None:
    net = cluster_with_learner()
    change(net, 1, ChangeKind.REMOVE, 4)
    with pytest.raises(MembershipError) as reused:
        net.core(1).propose_change(Change(ChangeKind.ADD_LEARNER, NodeId(4), "10.0.0.4:7000"))
    assert reused.value.code == "id_reused"


def test_a_learner_s_address_travels_in_its_configuration_entry() -> None:
    net = Network.create(3)
    net.elect(1)
    with_node(net, 4)
    net.core(1).propose_change(Change(ChangeKind.ADD_LEARNER, NodeId(4), "10.0.0.4:7000"))
    net.stabilize()
    for node in (2, 3, 4):
        assert net.core(node).membership.address(NodeId(4)) == "10.0.0.4:7000"
    change(net, 1, ChangeKind.PROMOTE, 4)
    assert net.core(3).membership.address(NodeId(4)) == "10.0.0.4:7000"
    change(net, 1, ChangeKind.REMOVE, 4)
    assert net.core(3).membership.address(NodeId(4)) == ""


def test_configuration_entries_at_or_below_the_base_index_are_another_cluster_s() -> None:
    old = Membership.of([7, 8])
    entries = [
        Entry(term=Term(1), index=LogIndex(i), data=old.encode(), kind=EntryKind.CONFIG)
        for i in (2, 5)
    ]
    restored = Memberships.from_log(Membership.of([1, 2, 3]), entries, LogIndex(5))
    assert restored.current == Membership.of([1, 2, 3])
    assert Memberships.from_log(Membership.of([1]), entries).current == old


@given(
    voters=st.frozensets(st.integers(1, 2**40), min_size=1, max_size=9),
    learners=st.frozensets(st.integers(1, 2**40), max_size=9),
    hosts=st.lists(st.text(max_size=40), max_size=18),
)
def test_a_configuration_entry_decodes_to_what_was_encoded(
    voters: frozenset[int], learners: frozenset[int], hosts: list[str]
) -> None:
    members = sorted(voters | learners)
    membership = Membership.of(voters, learners - voters, dict(zip(members, hosts, strict=False)))
    assert Membership.decode(membership.encode()) == membership


@pytest.mark.parametrize(
    "data", [b"", b"\x00", b"\x00\x01\x00\x00", b"\x00\x00\x00\x00", b"x" * 12]
)
def test_bytes_that_are_no_configuration_are_refused(data: bytes) -> None:
    with pytest.raises(MembershipError) as refused:
        Membership.decode(data)
    assert refused.value.code == "malformed"


def test_a_peer_s_configuration_entry_that_holds_none_is_a_bad_frame() -> None:
    entry = [1, 1, 2, b"\x00\x09"]
    with pytest.raises(FrameError, match="entry 1"):
        unpack_message([3, 1, 2, 1, 0, 0, [entry], 0])
    good = [1, 1, 2, Membership.of([1, 2, 3]).encode()]
    assert unpack_message([3, 1, 2, 1, 0, 0, [good], 0])


def test_a_change_that_leaves_no_answering_majority_is_refused() -> None:
    net = Network.create(3)
    net.elect(1)
    net.isolate(3)
    net.tick_all(ELECTION + 1)  # 1 still leads with 2; 3 has not answered for a timeout
    with pytest.raises(MembershipError) as refused:
        net.core(1).propose_change(Change(ChangeKind.REMOVE, NodeId(2)))
    assert refused.value.code == "would_lose_quorum"
    assert "[1]" in refused.value.message
    net.core(1).propose_change(Change(ChangeKind.REMOVE, NodeId(3)))  # the dead one goes
    net.stabilize()
    assert net.core(2).membership == Membership.of([1, 2])


def test_a_leader_alone_commits_its_entry_in_the_ready_that_persists_it() -> None:
    """Its write alone is the quorum and no one can hear of the commit first: one Ready, one
    write, persisted and applied together (the Ready's order: persist, then apply)."""
    net = Network.create(1)
    net.elect(1)
    core = net.core(1)
    core.propose(b"x")
    rd = core.ready()
    assert [e.data for e in rd.entries] == [b"x"] and rd.committed == rd.entries
    assert rd.must_sync and rd.hard_state is not None
    assert rd.hard_state.commit == rd.entries[-1].index
    net.host(1).storage.write(rd.hard_state, rd.entries)
    net.host(1).storage.sync()
    core.advance(rd)
    assert not core.has_ready()


def test_a_leader_with_a_learner_commits_its_entry_only_once_its_write_lands() -> None:
    """A learner would hear of a commit in the Ready's messages, which may be sent before
    the leader's write is durable: the leader's own answer waits for ``advance``."""
    net = Network.create(1)
    net.elect(1)
    with_node(net, 2)
    change(net, 1, ChangeKind.ADD_LEARNER, 2)
    core = net.core(1)
    core.propose(b"y")
    rd = core.ready()
    [new] = rd.entries
    assert rd.committed == () and core.log.committed < new.index
    assert all(getattr(m, "commit", 0) < new.index for m in rd.messages)
    net.in_flight.extend(rd.messages)
    net.host(1).storage.write(rd.hard_state, rd.entries)
    net.host(1).storage.sync()
    core.advance(rd)
    net.stabilize()
    assert core.log.committed == new.index and net.host(2).applied_data[-1] == b"y"
