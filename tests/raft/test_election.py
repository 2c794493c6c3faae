"""Leader election (Raft §5.2), pre-vote (thesis §9.6) and check-quorum / leader lease
(thesis §6.2, §4.2.3), driven through ticks and messages only."""

from __future__ import annotations

import pytest

from eventlog.raft.messages import (
    AppendEntries,
    Heartbeat,
    RequestVote,
    RequestVoteResponse,
)
from eventlog.raft.ready import Role
from eventlog.raft.records import HardState
from eventlog.types import LogIndex, NodeId, Term
from tests.raft.harness import Network

ELECTION = 15  # RaftConfig's default election_tick

MODES = [
    pytest.param({"pre_vote": True, "check_quorum": True}, id="prevote+checkquorum"),
    pytest.param({"pre_vote": False, "check_quorum": False}, id="plain"),
]


def vote_request(src: int, dst: int, term: int, *, pre_vote: bool = False) -> RequestVote:
    return RequestVote(
        src=NodeId(src),
        dst=NodeId(dst),
        term=Term(term),
        last_log_index=LogIndex(0),
        last_log_term=Term(0),
        pre_vote=pre_vote,
    )


def only_leader(net: Network) -> NodeId:
    leaders = net.leaders()
    assert len(leaders) == 1, f"expected one leader, got {leaders}"
    return leaders[0]


@pytest.mark.parametrize("mode", MODES)
def test_ticks_alone_elect_one_leader(mode: dict[str, bool]) -> None:
    """Raft §5.2: randomized election timeouts elect a single leader, no campaign() needed."""
    net = Network.create(5, **mode)
    timeouts = [net.core(n).randomized_election_timeout for n in range(1, 6)]
    assert all(ELECTION <= t < 2 * ELECTION for t in timeouts)
    ticks = net.tick_until(lambda: bool(net.leaders()), max_ticks=4 * ELECTION)
    assert ticks >= ELECTION  # nobody campaigns before its timeout
    leader = only_leader(net)
    term = net.core(leader).term
    for node in range(1, 6):
        assert net.core(node).leader == leader
        assert net.core(node).term == term
    assert net.core(leader).log.committed == 1  # its no-op committed on a majority


@pytest.mark.parametrize("mode", MODES)
def test_new_leader_after_the_leader_is_isolated(mode: dict[str, bool]) -> None:
    """Raft §5.2: when followers stop hearing from the leader, they elect another, later term."""
    net = Network.create(3, **mode)
    net.tick_until(lambda: bool(net.leaders()), max_ticks=4 * ELECTION)
    old = only_leader(net)
    old_term = net.core(old).term
    net.isolate(old)
    others = [n for n in (1, 2, 3) if n != old]
    net.tick_until(lambda: net.leader_among(others) is not None, 4 * ELECTION, nodes=others)
    new = net.leader_among(others)
    assert new is not None and new != old
    assert net.core(new).term > old_term
    net.heal()
    net.tick_all(2 * ELECTION)
    assert net.leaders() == [new]
    assert net.core(old).leader == new and net.core(old).term == net.core(new).term


def test_new_leader_after_the_leader_crashes() -> None:
    """Raft §5.2: a leader that crashes and restarts comes back as a follower of a newer term."""
    net = Network.create(3)
    net.elect(1)
    net.propose(1, b"a")
    net.crash_and_restart(1)
    assert net.core(1).role is Role.FOLLOWER and net.core(1).term == 1
    net.tick_until(lambda: bool(net.leaders()), max_ticks=4 * ELECTION)
    leader = only_leader(net)
    assert net.core(leader).term > 1
    net.propose(leader, b"b")
    for node in (1, 2, 3):
        assert net.host(node).applied_data[-2:] == [b"a", b"b"]


def test_split_vote_is_resolved_by_later_timeouts() -> None:
    """Raft §5.2: two candidates splitting the vote both time out; randomization breaks the tie."""
    net = Network.create(4, pre_vote=False, check_quorum=False)
    # 1 hears only from 3 and 2 only from 4, so each collects two of the four votes.
    for a, b in [(1, 4), (2, 3), (1, 2)]:
        net.cut |= {(NodeId(a), NodeId(b)), (NodeId(b), NodeId(a))}
    net.core(1).campaign()
    net.core(2).campaign()
    net.stabilize()
    assert net.core(1).role is Role.CANDIDATE and net.core(2).role is Role.CANDIDATE
    assert net.core(1).term == net.core(2).term == 1
    assert (net.core(3).vote, net.core(4).vote) == (1, 2)
    assert net.leaders() == []
    net.heal()
    net.tick_until(lambda: bool(net.leaders()), max_ticks=4 * ELECTION)
    leader = only_leader(net)
    assert net.core(leader).term >= 2
    assert all(net.core(n).leader == leader for n in range(1, 5))


def test_vote_is_granted_at_most_once_per_term() -> None:
    """Raft §5.2: a server votes for at most one candidate per term, first come first served."""
    net = Network.create(3, pre_vote=False, check_quorum=False)
    voter = net.core(3)
    voter.step(vote_request(1, 3, 1))
    voter.step(vote_request(2, 3, 1))
    voter.step(vote_request(1, 3, 1))  # a retry by the same candidate is granted again
    rd = voter.ready()
    answers = [(m.dst, m.granted) for m in rd.messages_after_persist]
    assert answers == [(1, True), (2, False), (1, True)]
    assert voter.vote == 1
    voter.step(vote_request(2, 3, 2))  # a new term frees the vote
    assert voter.vote == 2


def test_vote_survives_a_crash() -> None:
    """Raft Figure 2: votedFor is persisted before the vote is sent, so a restart keeps it."""
    net = Network.create(3, pre_vote=False, check_quorum=False)
    net.core(3).step(vote_request(1, 3, 1))
    net.process_ready(NodeId(3))
    net.crash_and_restart(3)
    assert (net.core(3).term, net.core(3).vote) == (1, 1)
    net.core(3).step(vote_request(2, 3, 1))
    rd = net.core(3).ready()
    assert [(m.dst, m.granted) for m in rd.messages_after_persist] == [(2, False)]


def test_vote_response_is_released_only_after_persist() -> None:
    """Thesis §3.8: a vote is a promise about durable state, so it waits for the fsync."""
    net = Network.create(3, pre_vote=False, check_quorum=False)
    voter = net.core(2)
    voter.step(vote_request(1, 2, 1))
    rd = voter.ready()
    assert rd.messages == ()
    assert [type(m) for m in rd.messages_after_persist] == [RequestVoteResponse]
    assert rd.hard_state == HardState(term=Term(1), vote=NodeId(1), commit=LogIndex(0))
    assert rd.must_sync


def test_candidate_counts_its_own_vote_only_after_persist() -> None:
    """Thesis §3.8: even a single node must persist its vote before it can win."""
    net = Network.create(1, pre_vote=False)
    core = net.core(1)
    core.campaign()
    assert core.role is Role.CANDIDATE
    rd = core.ready()
    assert rd.must_sync and rd.hard_state is not None and rd.hard_state.vote == 1
    assert core.role is Role.CANDIDATE
    core.advance(rd)
    assert core.role is Role.LEADER


def test_pre_vote_changes_nothing_durable() -> None:
    """Thesis §9.6: a granted pre-vote neither changes the term nor needs an fsync."""
    net = Network.create(3)
    voter = net.core(2)
    voter.step(vote_request(1, 2, 1, pre_vote=True))
    rd = voter.ready()
    assert [(type(m), m.granted) for m in rd.messages if isinstance(m, RequestVoteResponse)] == [
        (RequestVoteResponse, True)
    ]
    assert rd.messages_after_persist == ()
    assert rd.hard_state is None and not rd.must_sync
    assert (voter.term, voter.vote) == (0, 0)


def test_commit_only_ready_needs_no_sync() -> None:
    """Thesis §3.8: the commit index may be lost on a crash, so advancing it alone is not synced."""
    net = Network.create(3)
    net.elect(1)
    net.drop = lambda m: isinstance(m, AppendEntries) and m.dst == 2 and not m.entries
    net.propose(1, b"x")
    follower = net.core(2)
    assert follower.log.last_index() == 2 and follower.log.committed == 1
    follower.step(Heartbeat(src=NodeId(1), dst=NodeId(2), term=follower.term, commit=LogIndex(2)))
    rd = follower.ready()
    assert rd.hard_state is not None and rd.hard_state.commit == 2
    assert not rd.must_sync
    assert [e.data for e in rd.committed] == [b"x"]


def test_isolated_node_with_pre_vote_keeps_its_term() -> None:
    """Thesis §9.6: a partitioned node's pre-votes fail, so it never inflates its term."""
    net = Network.create(3)
    net.tick_until(lambda: bool(net.leaders()), max_ticks=4 * ELECTION)
    leader = only_leader(net)
    term = net.core(leader).term
    loner = next(n for n in (1, 2, 3) if n != leader)
    net.isolate(loner)
    net.tick_all(10 * ELECTION)
    assert net.core(loner).term == term
    assert net.core(loner).role is Role.PRE_CANDIDATE
    net.heal()
    net.tick_all(2 * ELECTION)
    assert net.leaders() == [leader]
    assert all(net.core(n).term == term for n in (1, 2, 3))
    assert net.core(loner).leader == leader


def test_isolated_node_without_pre_vote_disrupts_on_rejoin() -> None:
    """Thesis §9.6 (the problem pre-vote solves): a rejoining loner's term forces an election."""
    net = Network.create(3, pre_vote=False, check_quorum=False)
    net.elect(1)
    net.isolate(3)
    net.tick_all(10 * ELECTION)
    assert net.core(3).term > 1
    net.heal()
    net.tick_all(2 * ELECTION)
    assert net.core(1).term > 1


@pytest.mark.parametrize("settle", [0, 1, 2, 6, 14, 15, 16, 29])
def test_leader_cut_off_from_majority_steps_down_within_an_election_timeout(settle: int) -> None:
    """Thesis §6.2: a leader unheard by a majority for an election timeout steps down."""
    heartbeat = 3  # RaftConfig's default heartbeat_tick
    net = Network.create(5)
    net.elect(1)
    net.tick_all(settle)
    net.partition([1, 2], [3, 4, 5])  # the last answered round was at most `heartbeat` ago
    ticks = net.tick_until(
        lambda: net.core(1).role is not Role.LEADER, max_ticks=ELECTION, nodes=[1, 2]
    )
    assert ELECTION - heartbeat <= ticks <= ELECTION
    assert net.core(1).role is Role.FOLLOWER and net.core(1).term == 1
    assert net.core(1).leader == 0


def test_leader_with_majority_does_not_step_down() -> None:
    """Thesis §6.2: check-quorum keeps a leader that a majority keeps answering."""
    net = Network.create(5)
    net.elect(1)
    net.partition([1, 2, 3], [4, 5])
    net.tick_all(10 * ELECTION, nodes=[1, 2, 3])
    assert net.core(1).role is Role.LEADER and net.core(1).term == 1


def test_follower_in_lease_ignores_a_higher_term_vote_request() -> None:
    """Thesis §4.2.3: a follower that heard from its leader recently ignores a RequestVote."""
    net = Network.create(3)
    net.elect(1)
    follower = net.core(2)
    last = follower.log.last_index()
    request = RequestVote(
        src=NodeId(3), dst=NodeId(2), term=Term(5), last_log_index=last, last_log_term=Term(1)
    )
    follower.step(request)
    assert (follower.term, follower.vote, follower.leader) == (1, 1, 1)
    assert not follower.has_ready()
    net.isolate(1)
    net.tick(2, ELECTION)  # the lease runs out
    follower.step(request)
    assert (follower.term, follower.vote) == (5, 3)
    rd = follower.ready()
    assert [(m.dst, m.granted) for m in rd.messages_after_persist] == [(3, True)]


def test_followers_that_see_their_leader_go_elect_another_within_two_heartbeats() -> None:
    """A leader's process died: its followers' hosts saw its connections close. They campaign
    at once (within two heartbeats' ticks), not after a whole election timeout."""
    net = Network.create(3, pre_vote=True, check_quorum=True)
    net.elect(1)
    term = net.core(1).term
    del net.hosts[NodeId(1)]
    for node in (2, 3):
        net.core(node).peer_gone(NodeId(1))
        assert net.core(node).leader == 0, "no longer in lease: it grants the others' votes"
    config = net.core(2).config
    for _ in range(2 * config.heartbeat_tick + 1):
        net.tick_all(1)
        if any(net.core(node).role is Role.LEADER for node in (2, 3)):
            break
    assert only_leader(net) in (2, 3) and net.core(2).term == net.core(3).term > term
    assert 2 * config.heartbeat_tick + 1 < config.election_tick, "sooner than any timeout"


def test_a_live_leader_keeps_its_followers_when_one_of_them_thinks_it_gone() -> None:
    """One follower's connection broke while the leader lives: its pre-vote is refused by the
    follower that still hears the leader in lease, and the leader goes on in its term."""
    net = Network.create(3, pre_vote=True, check_quorum=True)
    net.elect(1)
    term = net.core(1).term
    net.core(2).peer_gone(NodeId(1))
    net.core(3).peer_gone(NodeId(2))  # not its leader: nothing changes
    assert net.core(3).leader == 1
    net.tick_all(3 * net.core(2).config.election_tick)
    assert only_leader(net) == 1 and net.core(1).term == term
    assert net.core(2).leader == 1, "it heard the leader again"
