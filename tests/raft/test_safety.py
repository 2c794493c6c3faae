"""Safety (Raft §5.4): the election restriction, committing only current-term entries
(Figure 8), leader completeness and state machine safety."""

from __future__ import annotations

import pytest

from eventlog.raft.messages import AppendEntries, Message
from eventlog.raft.ready import Role
from eventlog.raft.records import Entry
from eventlog.types import LogIndex, NodeId, Term
from tests.raft.harness import Network

ELECTION = 15


class CommitWatch:
    """Records every entry any node has reported committed; a node's committed prefix must
    always agree with the record (so no committed entry is ever replaced anywhere)."""

    def __init__(self) -> None:
        self.committed: dict[int, tuple[int, bytes]] = {}

    def check(self, net: Network) -> None:
        for node in net.hosts:
            log = net.core(node).log
            for entry in log.slice(LogIndex(1), LogIndex(log.committed + 1)):
                seen = self.committed.setdefault(entry.index, (entry.term, entry.data))
                assert seen == (entry.term, entry.data), f"node {node} changed entry {entry.index}"
        for node, host in net.hosts.items():
            for entry in host.applied:
                assert self.committed.get(entry.index) == (entry.term, entry.data), (
                    f"node {node} applied an entry {entry.index} that is not the committed one"
                )

    def assert_held_by(self, net: Network, node: int) -> None:
        log = net.core(node).log
        for index, (term, data) in self.committed.items():
            found = log.slice(LogIndex(index), LogIndex(index + 1))
            assert found and (found[0].term, found[0].data) == (term, data), (
                f"leader {node} lacks committed entry {index}"
            )


def entry_at(net: Network, node: int, index: int) -> Entry:
    return net.core(node).log.slice(LogIndex(index), LogIndex(index + 1))[0]


def campaign_until_leader(net: Network, node: int, tries: int = 3) -> None:
    for _ in range(tries):
        net.core(node).campaign()
        net.stabilize()
        if net.core(node).role is Role.LEADER:
            return
    raise AssertionError(f"node {node} did not win in {tries} campaigns")


@pytest.mark.parametrize(
    "mode",
    [{"pre_vote": True, "check_quorum": True}, {"pre_vote": False, "check_quorum": False}],
    ids=["prevote+checkquorum", "plain"],
)
def test_candidate_with_a_stale_log_cannot_win(mode: dict[str, bool]) -> None:
    """Raft §5.4.1: a voter denies its vote to a candidate whose log is less up to date."""
    net = Network.create(3, **mode)
    net.elect(1)
    net.isolate(3)
    net.propose(1, b"x")  # committed on 1 and 2 only
    net.heal()
    net.isolate(1)
    net.core(3).campaign()
    net.stabilize()
    assert net.core(3).role is not Role.LEADER
    assert net.core(2).vote != 3
    net.tick_until(lambda: net.leader_among([2, 3]) is not None, 6 * ELECTION, nodes=[2, 3])
    assert net.leader_among([2, 3]) == 2
    assert net.core(2).log.slice(LogIndex(2), LogIndex(3))[0].data == b"x"


def figure8_state_c(net: Network, watch: CommitWatch) -> Entry:
    """Figure 8 (a)-(c) on five nodes; returns the term-2 entry S1 holds on a majority.

    (a) S1 leads term 2 and replicates ``a`` to S2 only. (b) S1 is lost; S5 wins term 3 with
    S3, S4 and itself and appends ``b`` that reaches nobody. (c) S5 is lost; S1 returns, wins
    term 4 and replicates ``a`` (but not its term-4 entry) to S3: ``a`` is on a majority.
    """
    net.elect(1)
    net.crash_and_restart(1)
    net.elect(1)  # term 2; its no-op at index 2 commits everywhere
    net.drop = lambda m: isinstance(m, AppendEntries) and m.src == 1 and m.dst != 2
    net.propose(1, b"a")
    watch.check(net)
    assert net.log_terms(1) == net.log_terms(2) == [1, 2, 2] and net.log_terms(3) == [1, 2]
    # (b)
    net.isolate(1)
    net.drop = lambda m: isinstance(m, AppendEntries) and m.src == 5
    net.elect(5)
    net.propose(5, b"b")
    watch.check(net)
    assert net.core(5).term == 3 and net.log_terms(5) == [1, 2, 3, 3]
    # (c)
    net.heal()
    net.isolate(5)
    net.crash_and_restart(1)

    def term4_entries(m: Message) -> bool:
        return isinstance(m, AppendEntries) and any(e.term == 4 for e in m.entries)

    net.drop = term4_entries
    campaign_until_leader(net, 1)
    assert net.core(1).term == 4 and net.log_terms(1) == [1, 2, 2, 4]
    a = entry_at(net, 1, 3)
    for follower in (2, 3):
        net.deliver(
            AppendEntries(
                src=NodeId(1),
                dst=NodeId(follower),
                term=Term(4),
                prev_log_index=LogIndex(2),
                prev_log_term=Term(2),
                entries=(a,),
                leader_commit=net.core(1).log.committed,
            )
        )
    net.stabilize()
    watch.check(net)
    assert [net.log_terms(n)[:3] for n in (1, 2, 3)] == [[1, 2, 2]] * 3
    assert {n: net.core(1).progress[NodeId(n)].match for n in (2, 3)} == {2: 3, 3: 3}
    return a


def test_figure8_old_term_entry_on_a_majority_is_not_committed() -> None:
    """Raft §5.4.2, Figure 8 (c)-(d): an old-term entry on a majority is not committed."""
    net = Network.create(5, pre_vote=False, check_quorum=False)
    watch = CommitWatch()
    a = figure8_state_c(net, watch)
    assert net.core(1).log.committed == 2  # a (index 3) is on 3 of 5 nodes, yet not committed
    # (d) S1 is lost again; S5 comes back and wins term 5 with S2, S3 and S4.
    net.heal()
    net.isolate(1)
    net.crash_and_restart(5)
    campaign_until_leader(net, 5)
    assert net.core(5).term == 5
    net.propose(5, b"c")
    watch.check(net)
    for node in (2, 3, 4, 5):
        assert net.log_terms(node) == [1, 2, 3, 3, 5, 5]
        assert net.host(node).applied_data[-2:] == [b"b", b"c"]
    net.heal()
    net.tick_until(lambda: net.log_terms(1) == net.log_terms(5), 4 * ELECTION)
    net.tick_all(ELECTION)
    watch.check(net)
    assert entry_at(net, 1, 3) != a
    for node in range(1, 6):
        assert b"a" not in net.host(node).applied_data
        assert net.host(node).applied_data == [b"b", b"c"]


def test_figure8_entry_of_current_term_commits_the_old_one() -> None:
    """Raft §5.4.2, Figure 8 (e): a current-term entry on a majority commits the old one too."""
    net = Network.create(5, pre_vote=False, check_quorum=False)
    watch = CommitWatch()
    figure8_state_c(net, watch)
    net.drop = lambda m: isinstance(m, AppendEntries) and m.dst == 4  # S4 keeps its old log
    net.tick_all(3, nodes=[1])  # a heartbeat round lets S1 resend its term-4 entry
    watch.check(net)
    assert net.core(1).log.committed == 4
    assert net.host(1).applied_data == [b"a"]
    net.heal()
    net.isolate(1)
    net.crash_and_restart(5)
    for _ in range(3):
        net.core(5).campaign()
        net.stabilize()
        assert net.core(5).role is not Role.LEADER
    net.tick_until(lambda: net.leader_among([2, 3, 4, 5]) is not None, 6 * ELECTION, [2, 3, 4, 5])
    leader = net.leader_among([2, 3, 4, 5])
    assert leader in (2, 3)
    net.propose(leader, b"d")
    net.heal()
    net.tick_until(lambda: all(len(h.applied_data) == 2 for h in net.hosts.values()), 60)
    watch.check(net)
    for node in range(1, 6):
        assert net.host(node).applied_data == [b"a", b"d"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_leader_completeness_and_state_machine_safety(seed: int) -> None:
    """Raft §5.4.3: new leaders hold every committed entry and all nodes apply the same log."""
    net = Network.create(5, seed=seed)
    watch = CommitWatch()
    net.tick_until(lambda: bool(net.leaders()), 6 * ELECTION)
    leader = net.leaders()[0]
    for round_ in range(8):
        lagging = {NodeId((leader + round_) % 5 + 1), NodeId((leader + round_ + 1) % 5 + 1)}
        lagging.discard(leader)
        net.drop = lambda m, lag=frozenset(lagging): isinstance(m, AppendEntries) and m.dst in lag
        net.propose(leader, b"r%d-committed" % round_)
        keep = next(n for n in net.hosts if n != leader and n not in lagging)
        net.drop = lambda m, k=keep, src=leader: (
            isinstance(m, AppendEntries) and m.src == src and (m.dst != k)
        )
        net.propose(leader, b"r%d-maybe" % round_)
        watch.check(net)
        net.isolate(leader)
        net.drop = lambda m: False
        others = [n for n in net.hosts if n != leader]
        net.tick_until(lambda o=others: net.leader_among(o) is not None, 10 * ELECTION, others)
        new = net.leader_among(others)
        assert new is not None and net.core(new).term > net.core(leader).term
        watch.check(net)
        watch.assert_held_by(net, new)
        net.heal()
        net.tick_all(ELECTION)
        watch.check(net)
        assert net.leaders() == [new]
        leader = new
    net.tick_until(lambda: len({len(h.applied) for h in net.hosts.values()}) == 1, 4 * ELECTION)
    watch.check(net)
    applied = [host.applied for host in net.hosts.values()]
    assert all(entries == applied[0] for entries in applied)
    data = net.host(leader).applied_data
    assert all(b"r%d-committed" % r in data for r in range(8))
