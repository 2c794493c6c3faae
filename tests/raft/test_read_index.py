"""Linearizable reads with ReadIndex (thesis §6.4): no log entry per read, only a heartbeat
round that confirms the leader still leads."""

from __future__ import annotations

from eventlog.errors import EventLogError
from eventlog.raft.messages import AppendEntries, Heartbeat, HeartbeatResponse, Message
from eventlog.raft.ready import Role
from eventlog.types import LogIndex, NodeId
from tests.raft.harness import Network

ELECTION = 15


def test_leader_read_completes_after_a_heartbeat_quorum() -> None:
    """Thesis §6.4: a read is served at the commit index once a heartbeat quorum answers."""
    net = Network.create(3)
    net.elect(1)
    net.propose(1, b"x", b"y")
    commit = net.core(1).log.committed
    net.delivered.clear()
    net.core(1).read_index(b"ctx")
    net.stabilize()
    assert net.host(1).read_states == [(commit, b"ctx")]
    confirmations = [m for m in net.delivered if isinstance(m, HeartbeatResponse) and m.context]
    assert {m.src for m in confirmations} == {2, 3}
    assert net.core(1).log.last_index() == commit  # a read appends nothing


def test_leader_read_waits_for_heartbeat_acknowledgements() -> None:
    """Thesis §6.4 step 3: without a majority's answer to the heartbeat the read stays pending."""
    net = Network.create(3)
    net.elect(1)

    def no_heartbeat_answers(m: Message) -> bool:
        return isinstance(m, HeartbeatResponse)

    net.drop = no_heartbeat_answers
    net.core(1).read_index(b"ctx")
    net.stabilize()
    assert net.host(1).read_states == []
    net.heal()
    net.tick_all(3)  # the next heartbeat carries the pending read's context
    assert net.host(1).read_states == [(net.core(1).log.committed, b"ctx")]


def test_follower_read_is_forwarded_and_answered() -> None:
    """Thesis §6.4: a follower asks the leader for its read index and serves the read locally."""
    net = Network.create(3)
    net.elect(1)
    net.propose(1, b"x")
    net.core(2).read_index(b"from-2")
    net.stabilize()
    commit = net.core(1).log.committed
    assert net.host(2).read_states == [(commit, b"from-2")]
    assert net.host(1).read_states == [] and net.host(3).read_states == []
    assert len(net.host(2).applied) >= commit


def test_read_sees_every_write_committed_before_it() -> None:
    """Thesis §6.4: the read index covers every write committed before the read arrived."""
    net = Network.create(3)
    net.elect(1)

    def no_heartbeat_answers(m: Message) -> bool:
        return isinstance(m, HeartbeatResponse)

    for round_, write in enumerate([b"w1", b"w2", b"w3"], start=1):
        net.drop = no_heartbeat_answers
        net.propose(1, write)
        commit_at_request = net.core(1).log.committed
        net.core(1).read_index(b"r%d" % round_)
        net.propose(1, b"later-%d" % round_)  # commits while the read waits for its quorum
        net.heal()
        net.tick_all(3)
        index, context = net.host(1).read_states[-1]
        assert context == b"r%d" % round_
        assert commit_at_request <= index <= net.core(1).log.committed
        assert write in [e.data for e in net.host(1).applied[:index]]


def test_new_leader_defers_reads_until_its_term_commits() -> None:
    """Thesis §6.4 step 1: a new leader holds reads until an entry of its term commits."""
    net = Network.create(3, pre_vote=False, check_quorum=False)
    net.elect(1)
    net.propose(1, b"x")

    def no_appends_from_2(m: Message) -> bool:
        return isinstance(m, AppendEntries) and m.src == 2

    net.drop = no_appends_from_2
    net.elect(2)
    leader = net.core(2)
    net.tick_all(3, nodes=[2])  # a heartbeat tells 3 who leads; appends still get lost
    assert leader.log.term(leader.log.committed) == 1  # its no-op is not committed yet
    assert net.core(3).leader == 2
    net.core(3).read_index(b"from-3")
    leader.read_index(b"from-2")
    net.stabilize()
    assert net.host(2).read_states == [] and net.host(3).read_states == []
    assert not any(isinstance(m, Heartbeat) and m.context for m in net.delivered)
    net.heal()
    net.tick_all(3)  # a heartbeat round gets the no-op replicated and committed
    commit = leader.log.committed
    assert leader.log.term(commit) == leader.term == 2
    assert net.host(2).read_states == [(commit, b"from-2")]
    assert net.host(3).read_states == [(commit, b"from-3")]


def test_partitioned_leader_cannot_complete_a_read() -> None:
    """Thesis §6.4: a deposed leader in a minority never gets the quorum to serve a read."""
    net = Network.create(5)
    net.elect(1)
    net.propose(1, b"old")
    net.partition([1, 2], [3, 4, 5])
    net.tick_until(lambda: net.leader_among([3, 4, 5]) is not None, 6 * ELECTION, [3, 4, 5])
    new = net.leader_among([3, 4, 5])
    assert new is not None
    net.propose(new, b"new")
    assert net.core(1).role is Role.LEADER  # it has not been ticked, so it still believes
    net.core(1).read_index(b"stale?")
    net.core(2).read_index(b"stale-2?")
    net.tick_all(ELECTION - 1, nodes=[1, 2])
    assert net.host(1).read_states == [] and net.host(2).read_states == []
    net.core(new).read_index(b"fresh")
    net.stabilize()
    assert net.host(new).read_states == [(net.core(new).log.committed, b"fresh")]


def test_minority_leader_read_completes_once_reconnected() -> None:
    """Thesis §6.4: the read was held only for want of a quorum; healing releases it."""
    net = Network.create(5)
    net.elect(1)
    net.partition([1, 2], [3, 4, 5])
    net.core(1).read_index(b"held")
    net.tick_all(6, nodes=[1, 2])
    assert net.host(1).read_states == []
    net.heal()
    net.tick_all(3)
    assert net.host(1).read_states == [(net.core(1).log.committed, b"held")]


def test_single_node_answers_a_read_at_once() -> None:
    """Thesis §6.4: with one voter the leader is its own quorum; no round trip is needed."""
    net = Network.create(1)
    net.elect(1)
    net.propose(1, b"x")
    core = net.core(1)
    core.read_index(b"solo")
    rd = core.ready()
    assert [(r.index, r.context) for r in rd.read_states] == [(LogIndex(2), b"solo")]
    assert rd.messages == () and rd.messages_after_persist == ()
    core.advance(rd)
    assert core.role is Role.LEADER and core.leader == NodeId(1)


def test_single_node_read_after_restart_reflects_acknowledged_writes() -> None:
    """Thesis §6.4 step 1 holds for one voter: a restarted leader waits for its term to commit.
    Alone, a leader commits its entry in the Ready that persists it, so the commit index is
    as durable as the entry; a crash that loses every unsynced write loses neither."""
    net = Network.create(1)
    net.elect(1)
    net.propose(1, b"x")
    assert net.host(1).applied_data == [b"x"]  # applied, so acknowledged to its client
    assert not net.host(1).storage.has_unsynced_writes
    net.crash_and_restart(1)
    core = net.core(1)
    assert core.log.committed == 2 and core.log.last_index() == 2
    core.campaign()
    net.process_ready(NodeId(1))  # the vote is persisted: it leads, its no-op not yet committed
    assert core.role is Role.LEADER
    core.read_index(b"after-restart")
    net.stabilize()
    [(index, context)] = net.host(1).read_states
    assert context == b"after-restart"
    assert index >= 2, f"read index {index} misses the acknowledged write at index 2"


def test_read_with_an_empty_context_is_answered_or_refused() -> None:
    """Thesis §6.4: every read request is eventually served or refused, never silently lost."""
    net = Network.create(3)
    net.elect(1)
    try:
        net.core(1).read_index(b"")
    except (EventLogError, ValueError):
        return  # refusing an empty context up front is a fine contract too
    net.stabilize()
    net.tick_all(3)
    assert net.host(1).read_states == [(net.core(1).log.committed, b"")]


def test_reads_from_two_followers_with_the_same_context_are_both_answered() -> None:
    """Thesis §6.4: each follower's forwarded read gets its own answer."""
    net = Network.create(3)
    net.elect(1)
    net.core(2).read_index(b"1")
    net.core(3).read_index(b"1")
    net.stabilize()
    net.tick_all(3)
    commit = net.core(1).log.committed
    assert net.host(2).read_states == [(commit, b"1")]
    assert net.host(3).read_states == [(commit, b"1")]
