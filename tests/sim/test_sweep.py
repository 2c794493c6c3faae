"""Seeded sweeps of whole clusters through faults: no safety violation, and real progress."""

from __future__ import annotations

import pytest

from eventlog.sim.config import SimConfig
from eventlog.sim.faults import CHANGES, STORM
from eventlog.sim.run import Totals, sweep

CHUNK = 250


def _sweep(first: int, config: SimConfig) -> Totals:
    totals = Totals()
    for result in sweep(range(first, first + CHUNK), config, jobs=1):
        totals.add(result)
    return totals


def _assert_clean_and_busy(totals: Totals, *, networked: bool = True) -> None:
    failures = [f"seed {r.seed}: {v}" for r in totals.failures for v in r.violations]
    assert not failures, "\n".join(failures[:5])
    stats = totals.stats
    # The sweep must have exercised what it claims to check.
    assert stats["elections"] >= totals.seeds
    assert stats["crashes"] > totals.seeds
    assert stats["lost_writes"] > 0
    if networked:
        assert stats["partitions"] > totals.seeds // 2
        assert stats["dropped"] > 0 and stats["duplicated"] > 0
    assert stats["acknowledged"] > 20 * totals.seeds
    assert stats["reads"] > totals.seeds
    # ... and the state machine decided real appends, refusals and retries on every node.
    assert stats["events"] > 50 * totals.seeds
    assert stats["refusals"] > totals.seeds


@pytest.mark.parametrize("first", range(0, 1500, CHUNK))
def test_three_node_sweep(first: int) -> None:
    _assert_clean_and_busy(_sweep(first, SimConfig(nodes=3, steps=2000)))


@pytest.mark.parametrize("first", range(100_000, 101_000, CHUNK))
def test_five_node_sweep(first: int) -> None:
    _assert_clean_and_busy(_sweep(first, SimConfig(nodes=5, steps=2500)))


@pytest.mark.parametrize("first", range(200_000, 201_000, CHUNK))
def test_storm_sweep(first: int) -> None:
    _assert_clean_and_busy(_sweep(first, SimConfig(nodes=3, steps=2000, faults=STORM)))


@pytest.mark.parametrize("nodes", [1, 2])
def test_small_cluster_sweep(nodes: int) -> None:
    """One node must still wait for its own term before reads; two need both for a quorum."""
    totals = _sweep(300_000 + 1000 * nodes, SimConfig(nodes=nodes, steps=2000))
    _assert_clean_and_busy(totals, networked=nodes > 1)


@pytest.mark.parametrize(("first", "nodes"), [(400_000, 3), (400_250, 5)])
def test_membership_change_sweep(first: int, nodes: int) -> None:
    """The default faults with membership changes among them: learners added from spare
    servers, promoted, voters and leaders removed, every invariant checked all along and the
    remaining members converging once the faults stop."""
    totals = _sweep(first, SimConfig(nodes=nodes, steps=2500, faults=CHANGES, spares=2))
    _assert_clean_and_busy(totals)
    stats = totals.stats
    assert stats["learners_added"] > totals.seeds // 4
    assert stats["promotions"] > 0 and stats["removals"] > 0
    if nodes == 5:
        assert stats["leader_removals"] > 0
