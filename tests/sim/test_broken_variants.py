"""The simulator's checks have teeth: each deliberately broken core is caught.

The broken variants live in ``tests/sim/broken.py``; the core itself has no switches.
"""

from __future__ import annotations

import pytest

from eventlog.raft.messages import AppendEntries, Message
from eventlog.raft.ready import Role
from eventlog.sim.cluster import CoreFactory, SimCluster, open_core
from eventlog.sim.config import SimConfig
from eventlog.sim.faults import CALM, STORM, Fault, FaultPlan
from eventlog.sim.run import first_failure
from eventlog.state.clock import LeaderClock
from eventlog.state.memory import MemoryState
from eventlog.types import LogIndex, NodeId
from tests.sim import broken
from tests.sim.broken import ForgetfulState, OwnWallClock, SkewedClockState


def test_vote_without_log_check_is_caught_by_the_sweep() -> None:
    """Raft §5.4.1: without the election restriction a stale node wins and loses commits."""
    failure = first_failure(range(300), SimConfig(nodes=3, steps=2000), broken.votes_blindly)
    assert failure is not None
    assert {v.invariant for v in failure.violations} & {
        "leader_completeness",
        "state_machine_safety",
        "log_matching",
    }


def test_forgotten_vote_is_caught_by_the_sweep() -> None:
    """Figure 2: a vote not persisted lets a restarted node vote twice in one term."""
    config = SimConfig(nodes=3, steps=2000, faults=STORM)
    failure = first_failure(range(1000), config, broken.forgets_vote)
    assert failure is not None
    assert {v.invariant for v in failure.violations} & {"election_safety", "log_matching"}


def test_forgotten_vote_would_break_nothing_without_crashes() -> None:
    """The violation above needs a lost unsynced write: the sweep catches it for that reason."""
    calm = SimConfig(nodes=3, steps=2000, faults=CALM)
    assert first_failure(range(20), calm, broken.forgets_vote) is None


def test_read_at_a_stale_commit_index_is_caught_by_the_sweep() -> None:
    """Thesis §6.4: a leader must commit an entry of its term before it serves reads."""
    failure = first_failure(range(300), SimConfig(nodes=3, steps=2000), broken.reads_stale_commit)
    assert failure is not None
    assert "linearizable_read" in {v.invariant for v in failure.violations}


def _figure_8(core_factory: CoreFactory) -> SimCluster:
    """Raft Figure 8, scripted on five nodes with one entry per AppendEntries.

    (a) S1 leads, replicates x to S2 only. (b) S5 wins with S3, S4 and writes y at x's index,
    then dies. (c) S1 returns, wins, and replicates x to a majority, but not its own entry.
    (d) S1 dies; S5 returns and wins with S2, S3, S4 (their last term is older than y's).
    A correct leader never commits x in (c); a broken one does, and then S5 overwrites it.
    """
    config = SimConfig(
        nodes=5,
        faults=CALM,
        clients=False,
        raft_overrides=(("max_message_bytes", 1), ("check_quorum", False), ("pre_vote", True)),
    )
    sim = SimCluster(0, config)
    sim.boot()
    n = sim.nodes

    def leader(node: int) -> bool:
        core = n[NodeId(node)].core
        return core is not None and core.role is Role.LEADER

    def settled() -> bool:
        return all(len(node.applied) == 1 for node in n.values())

    sim.core_factory = core_factory
    for node in n.values():  # reboot every node with the core under test
        sim.crash(node)
        sim.start(node)
    assert n[NodeId(1)].core is not None
    n[NodeId(1)].core.campaign()
    assert sim.run_until(lambda: leader(1) and settled(), 1000)

    # (a) x reaches S2 only.
    sim.network.partition([1, 2], [3, 4, 5])
    [x] = sim.batches(n[NodeId(1)])
    assert sim.submit(n[NodeId(1)], [x])
    assert sim.run_until(lambda: n[NodeId(2)].disk.storage.last_index() == 2, 500)
    sim.run_until(lambda: False, 20)
    sim.crash(n[NodeId(1)])

    # (b) S5 wins with S3 and S4, and its entry at index 2 reaches nobody.
    sim.network.heal()
    sim.network.partition([2], [3, 4, 5], [1])
    core5 = n[NodeId(5)].core
    assert core5 is not None
    core5.campaign()
    assert sim.run_until(lambda: leader(5), 1000)
    sim.network.partition([5], [2, 3, 4], [1])
    sim.run_until(lambda: False, 20)
    sim.crash(n[NodeId(5)])

    # (c) S1 wins again; x reaches S3 and S4, S1's own new entry reaches no one.
    sim.network.heal()
    sim.network.partition([1, 2, 3, 4], [5])
    sim.start(n[NodeId(1)])
    core1 = n[NodeId(1)].core
    assert core1 is not None
    core1.campaign()
    assert sim.run_until(lambda: leader(1), 1000)
    term = core1.term

    def drop_new_entries(m: Message) -> bool:
        return isinstance(m, AppendEntries) and any(e.term == term for e in m.entries)

    sim.network.drop_if = drop_new_entries

    def holds_x(node: int) -> bool:
        storage = n[NodeId(node)].disk.storage
        return storage.last_index() >= 2 and storage.term(LogIndex(2)) == 1

    assert sim.run_until(lambda: all(holds_x(i) for i in (1, 2, 3, 4)), 1000)
    sim.run_until(lambda: False, 100)

    # (d) S1 dies, S5 returns and campaigns against S2, S3 and S4.
    sim.crash(n[NodeId(1)])
    sim.network.drop_if = None
    sim.network.heal()
    sim.network.partition([1], [2, 3, 4, 5])
    sim.start(n[NodeId(5)])
    core5 = n[NodeId(5)].core
    assert core5 is not None
    core5.campaign()
    sim.run_until(lambda: bool(sim.checker.violations), 1000)
    return sim


def test_figure_8_commit_by_counting_replicas_is_caught() -> None:
    """Raft §5.4.2: committing an old-term entry by counting replicas loses it (Figure 8)."""
    sim = _figure_8(broken.commits_old_terms)
    assert any(
        v.invariant in ("leader_completeness", "state_machine_safety")
        for v in sim.checker.violations
    )


def test_figure_8_correct_core_keeps_safety() -> None:
    """Raft §5.4.2: the same script against the real core breaks nothing."""
    sim = _figure_8(open_core)
    assert sim.checker.violations == []
    assert NodeId(5) in sim.checker.leader_of_term.values()
    assert all((entry.index, entry.term) != (2, 1) for entry in sim.checker.applied), "x"


@pytest.mark.parametrize(
    ("broken", "caught_by"),
    [
        (ForgetfulState, {"same_decisions", "exactly_once"}),
        # Its clock is two hours off: the clock check names that, or its decisions differ.
        (SkewedClockState, {"same_decisions", "exactly_once", "clock_rate"}),
    ],
)
def test_a_state_machine_broken_on_one_node_is_caught_by_the_sweep(
    broken: type[MemoryState], caught_by: set[str]
) -> None:
    def states(node: NodeId) -> MemoryState:
        return broken() if node == 1 else MemoryState()

    for seed in range(20):
        _, violations = SimCluster(seed, SimConfig(nodes=3, steps=1500), state_factory=states).run()
        if violations:
            break
    assert {v.invariant for v in violations} & caught_by, violations


def test_a_leader_stamping_its_own_clock_is_caught_by_the_sweep() -> None:
    def clocks(node: NodeId) -> LeaderClock:
        return OwnWallClock() if node == 1 else LeaderClock()

    for seed in range(20):
        sim = SimCluster(seed, SimConfig(nodes=3, steps=1500), clock_factory=clocks)
        _, violations = sim.run()
        if violations:
            break
    assert {v.invariant for v in violations} == {"clock_rate"}, violations


def test_two_membership_changes_in_flight_are_caught_by_the_sweep() -> None:
    """Thesis §4.1: single-server changes are safe one at a time; a leader that proposes a
    change while another is uncommitted (here with promotions of learners however far behind)
    lets two majorities that do not overlap elect two histories."""
    plan = FaultPlan(
        mean_interval_ms=25.0,
        weights=(
            (Fault.ADD_LEARNER, 3.0),
            (Fault.PROMOTE, 4.0),
            (Fault.REMOVE, 3.0),
            (Fault.REMOVE_LEADER, 1.0),
            (Fault.PARTITION, 1.5),
            (Fault.ISOLATE_LEADER, 1.5),
            (Fault.CRASH_LEADER, 1.0),
            (Fault.RESTART, 2.0),
            (Fault.HEAL, 2.0),
        ),
        restart_after_ms=(2.0, 120.0),
        stay_down_chance=0.05,
    )
    config = SimConfig(nodes=5, steps=3000, faults=plan, spares=4)
    failure = first_failure(range(100), config, broken.changes_at_once)
    assert failure is not None
    assert {v.invariant for v in failure.violations} & {
        "leader_completeness",
        "state_machine_safety",
        "election_safety",
        "durability",
    }
    assert first_failure(range(20), config, open_core) is None, "the real core, same plan"
