"""Log replication (Raft §5.3), with the thesis's fast backtracking, batching and pipelining
(thesis §5.3, §10.2)."""

from __future__ import annotations

import pytest

from eventlog.errors import NotLeader
from eventlog.raft.messages import AppendEntries, AppendEntriesResponse, Message
from eventlog.raft.ready import Role
from eventlog.raft.storage import MemoryStorage
from eventlog.types import NodeId
from tests.raft.harness import Network

ELECTION = 15


def appends_with_entries(net: Network, dst: int) -> list[AppendEntries]:
    return [
        m
        for m in net.delivered
        if isinstance(m, AppendEntries) and m.dst == dst and m.entries and m.src != dst
    ]


def rejections_from(net: Network, src: int) -> list[AppendEntriesResponse]:
    return [
        m
        for m in net.delivered
        if isinstance(m, AppendEntriesResponse) and m.src == src and m.reject
    ]


def new_leader_among(net: Network, nodes: list[int]) -> NodeId:
    net.tick_until(lambda: net.leader_among(nodes) is not None, 6 * ELECTION, nodes=nodes)
    leader = net.leader_among(nodes)
    assert leader is not None
    return leader


def test_proposals_replicate_and_commit_everywhere() -> None:
    """Raft §5.3: the leader appends, replicates to followers, commits, and all apply in order."""
    net = Network.create(5)
    net.elect(1)
    net.propose(1, b"a")
    net.propose(1, b"b", b"c")
    for node in range(1, 6):
        core = net.core(node)
        assert net.host(node).applied_data == [b"a", b"b", b"c"]
        assert core.log.committed == core.log.last_index() == 4
        assert net.log_terms(node) == [1, 1, 1, 1]


def test_propose_on_a_follower_raises_not_leader_with_hint() -> None:
    """Raft §8: a follower redirects clients to the leader it knows of."""
    net = Network.create(3)
    with pytest.raises(NotLeader) as unknown:
        net.core(2).propose(b"x")
    assert unknown.value.leader_hint is None
    net.elect(1)
    with pytest.raises(NotLeader) as known:
        net.core(2).propose(b"x")
    assert known.value.leader_hint == 1 and known.value.node_id == 2
    assert net.core(2).log.last_index() == 1


def test_conflicting_uncommitted_suffix_is_overwritten() -> None:
    """Raft §5.3: a follower's conflicting uncommitted suffix is overwritten, never applied."""
    net = Network.create(3)
    net.elect(1)
    net.propose(1, b"a")
    net.isolate(1)
    net.propose(1, b"lost-1", b"lost-2")  # accepted by the old leader, never committed
    assert net.core(1).log.committed == 2 and net.log_terms(1) == [1, 1, 1, 1]
    new = new_leader_among(net, [2, 3])
    net.propose(new, b"b")
    assert net.log_terms(new) == [1, 1, 2, 2]
    net.heal()
    net.tick_until(lambda: net.log_terms(1) == net.log_terms(new), 4 * ELECTION)
    net.tick_all(ELECTION)
    assert net.leaders() == [new]
    for node in (1, 2, 3):
        assert net.host(node).applied_data == [b"a", b"b"]
        assert net.log_terms(node) == [1, 1, 2, 2]


def test_fast_backtracking_repairs_a_long_conflict_in_few_round_trips() -> None:
    """Thesis §5.3: rejection hints skip a whole term of conflict per round trip, not one entry."""
    net = Network.create(3)
    net.elect(1)
    net.propose(1, b"base")
    net.isolate(1)
    net.propose(1, *[b"stale-%d" % i for i in range(50)])
    first = new_leader_among(net, [2, 3])
    net.propose(first, *[b"fresh-%d" % i for i in range(100)])
    # Hand over to the other up-to-date node: its next index for node 1 starts past the end.
    second = 5 - first
    net.core(first).transfer_leadership(NodeId(second))
    net.stabilize()
    assert net.leader_among([2, 3]) == second
    assert net.core(second).log.last_index() == 104 and net.core(1).log.last_index() == 52
    net.delivered.clear()
    net.heal()
    net.tick_until(lambda: net.log_terms(1) == net.log_terms(second), 4 * ELECTION)
    rejected = rejections_from(net, 1)
    assert 1 <= len(rejected) <= 2, [(m.index, m.hint_index, m.hint_term) for m in rejected]
    net.tick_all(ELECTION)
    assert net.host(1).applied_data == net.host(second).applied_data
    assert len(net.host(1).applied_data) == 101


def test_fast_backtracking_over_several_terms() -> None:
    """Thesis §5.3: a conflicting suffix spanning several terms is fixed in one or two trips."""
    net = Network.create(5, pre_vote=False, check_quorum=False)
    net.elect(1)
    net.propose(1, b"base")
    net.elect(2)
    net.drop = lambda m: isinstance(m, AppendEntries) and m.src == 2 and m.dst != 5
    net.propose(2, *[b"t2-%d" % i for i in range(20)])  # only 2 and 5 store these
    net.crash_and_restart(2)
    net.elect(2)  # term 3: its longer log wins 1, 3 and 4 over, but its appends reach only 5
    net.propose(2, *[b"t3-%d" % i for i in range(20)])
    assert net.log_terms(5) == [1, 1, 2] + [2] * 20 + [3] * 21
    net.heal()
    net.isolate(2)
    net.isolate(5)
    net.elect(4)
    net.propose(4, *[b"t4-%d" % i for i in range(30)])
    net.elect(1)  # a leader whose next index for 5 starts at its own last index + 1
    assert net.log_terms(1) == [1, 1, 2] + [4] * 31 + [5]
    net.delivered.clear()
    net.heal()
    net.tick_until(lambda: net.log_terms(5) == net.log_terms(1), 4 * ELECTION)
    assert 1 <= len(rejections_from(net, 5)) <= 3
    assert net.core(5).log.committed == 35


def test_minority_partition_cannot_commit() -> None:
    """Raft §5.3: an entry commits only once a majority stores it; the majority side goes on."""
    net = Network.create(5)
    net.elect(1)
    net.propose(1, b"a")
    net.partition([1, 2], [3, 4, 5])
    net.propose(1, b"minority")
    assert net.core(2).log.last_index() == 3  # replicated to 2, but 2 of 5 is no majority
    assert net.core(1).log.committed == 2 and net.host(1).applied_data == [b"a"]
    new = new_leader_among(net, [3, 4, 5])
    net.propose(new, b"majority")
    for node in (3, 4, 5):
        assert net.host(node).applied_data == [b"a", b"majority"]
    assert net.core(1).log.committed == 2
    net.heal()
    net.tick_until(lambda: all(net.log_terms(n) == net.log_terms(new) for n in (1, 2)), 60)
    net.tick_all(ELECTION)
    for node in range(1, 6):
        assert net.host(node).applied_data == [b"a", b"majority"]


def test_many_proposals_in_one_call_ride_one_append_per_follower() -> None:
    """Thesis §10.2.1: a batch of proposals goes out as one AppendEntries per follower."""
    net = Network.create(3)
    net.elect(1)
    net.delivered.clear()
    payloads = [b"e%d" % i for i in range(50)]
    net.propose(1, *payloads)
    for follower in (2, 3):
        appends = appends_with_entries(net, follower)
        assert len(appends) == 1
        assert [e.data for e in appends[0].entries] == payloads
    for node in (1, 2, 3):
        assert net.host(node).applied_data == payloads


def test_max_message_bytes_splits_a_large_batch() -> None:
    """Thesis §10.2.1: an AppendEntries carries at most max_message_bytes of entries."""
    net = Network.create(3, max_message_bytes=200)
    net.elect(1)
    net.delivered.clear()
    payloads = [bytes([65 + i]) * 50 for i in range(10)]  # 66 bytes each, three per message
    net.propose(1, *payloads)
    for follower in (2, 3):
        appends = appends_with_entries(net, follower)
        assert len(appends) >= 4
        assert all(sum(e.size for e in m.entries) <= 200 for m in appends)
        assert [e.data for m in appends for e in m.entries] == payloads
    for node in (1, 2, 3):
        assert net.host(node).applied_data == payloads


def test_inflight_window_bounds_unacknowledged_appends() -> None:
    """Thesis §10.2.1: with no acknowledgements, at most max_inflight_messages appends go out."""
    net = Network.create(3, max_inflight_messages=2)
    net.elect(1)
    net.delivered.clear()

    def no_acks(m: Message) -> bool:
        return isinstance(m, AppendEntriesResponse) and m.dst == 1

    net.drop = no_acks
    for i in range(5):
        net.propose(1, b"p%d" % i)
    for follower in (2, 3):
        assert len(appends_with_entries(net, follower)) == 2
        assert net.core(follower).log.last_index() == 3  # the no-op, p0 and p1
    assert net.core(1).log.committed == 1
    net.heal()
    net.tick_until(lambda: all(len(net.host(n).applied_data) == 5 for n in (1, 2, 3)), 30)
    for node in (1, 2, 3):
        assert net.host(node).applied_data == [b"p%d" % i for i in range(5)]


def test_lagging_follower_catches_up_after_reconnecting() -> None:
    """Raft §5.3: the leader retries AppendEntries until every follower has every entry."""
    net = Network.create(3)
    net.elect(1)
    net.isolate(3)
    for i in range(10):
        net.propose(1, b"v%d" % i)
    assert net.core(3).log.last_index() == 1
    net.heal()
    net.tick_until(lambda: len(net.host(3).applied_data) == 10, 10)
    assert net.host(3).applied_data == [b"v%d" % i for i in range(10)]
    assert net.core(1).role is Role.LEADER and net.core(3).term == 1


def test_a_follower_that_lost_what_it_acknowledged_is_caught_up_again() -> None:
    """A follower whose disk was emptied answers with a log shorter than the ``match`` the
    leader holds for it; the leader must notice and send it everything again, not skip it
    until the next leader change."""
    net = Network.create(3)
    net.elect(1)
    net.propose(1, b"a", b"b")
    assert net.core(1).progress[NodeId(3)].match == 3
    net.hosts[NodeId(3)] = net._boot(NodeId(3), MemoryStorage())  # an empty disk
    net.propose(1, b"c")
    net.tick_all(3 * ELECTION, nodes=[1, 2])
    net.stabilize()
    assert net.host(3).applied_data == [b"a", b"b", b"c"]
    assert net.core(3).log.committed == net.core(1).log.committed == 4
    assert net.core(1).progress[NodeId(3)].match == 4


def test_heartbeat_answers_never_open_the_window_only_acknowledgements_do() -> None:
    """Catching up is paced by the bytes in flight: a follower that answers heartbeats but
    whose acknowledgements do not come back is sent no more than the window holds, however
    many heartbeats it answers; once the window has waited an election timeout it is probed
    (with no entries) and, when its answers come back, caught up."""
    net = Network.create(3, max_inflight_messages=2, max_message_bytes=1)
    net.elect(1)

    def no_acks_from_3(m: Message) -> bool:
        return isinstance(m, AppendEntriesResponse) and m.src == 3

    net.drop = no_acks_from_3
    net.delivered.clear()
    for i in range(20):
        net.core(1).propose(b"p%d" % i)
    net.stabilize()
    for _ in range(ELECTION - 1):  # heartbeats answered, acknowledgements lost
        net.tick_all(1)
    sent = appends_with_entries(net, 3)
    assert len(sent) == 2, "no more than the window, whatever the heartbeats"
    net.tick_all(3 * ELECTION)
    probes = [m for m in net.delivered if isinstance(m, AppendEntries) and m.dst == 3]
    assert len(appends_with_entries(net, 3)) == 2, "a probe carries no entries"
    assert len(probes) > len(sent)
    net.heal()
    net.tick_until(lambda: len(net.host(3).applied_data) == 20, 4 * ELECTION)
    assert net.host(3).applied_data == [b"p%d" % i for i in range(20)]
