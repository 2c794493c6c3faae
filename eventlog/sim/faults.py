"""The fault plan: which fault strikes next, drawn from the run's own seeded random source."""

from __future__ import annotations

import enum
import random

import attrs

__all__ = [
    "CALM",
    "CHANGES",
    "STORM",
    "Fault",
    "FaultPlan",
]


class Fault(enum.Enum):
    CRASH = "crash"
    CRASH_LEADER = "crash_leader"
    RESTART = "restart"
    PARTITION = "partition"
    ISOLATE_LEADER = "isolate_leader"
    ONE_WAY = "one_way"
    FLAP = "flap"
    HEAL = "heal"
    DEGRADE = "degrade"
    TRANSFER = "transfer"
    ADD_LEARNER = "add_learner"
    PROMOTE = "promote"
    REMOVE = "remove"
    REMOVE_LEADER = "remove_leader"


@attrs.frozen(kw_only=True)
class FaultPlan:
    """Relative weights of each fault; a weight of 0 switches that fault off."""

    mean_interval_ms: float = 120.0
    weights: tuple[tuple[Fault, float], ...] = (
        (Fault.CRASH, 2.0),
        (Fault.CRASH_LEADER, 1.5),
        (Fault.RESTART, 3.0),
        (Fault.PARTITION, 1.0),
        (Fault.ISOLATE_LEADER, 1.0),
        (Fault.ONE_WAY, 1.0),
        (Fault.FLAP, 0.7),
        (Fault.HEAL, 2.0),
        (Fault.DEGRADE, 1.0),
        (Fault.TRANSFER, 0.7),
    )
    restart_after_ms: tuple[float, float] = (5.0, 600.0)
    stay_down_chance: float = 0.2
    """Chance that a crashed node stays down until the faults stop."""
    crash_new_leader_chance: float = 0.05
    """Chance that a newly elected leader crashes within ``crash_new_leader_ms``: half-replicated
    entries of short-lived terms are where commit rules go wrong (Raft Figure 8)."""
    crash_new_leader_ms: tuple[float, float] = (0.0, 30.0)

    def next_fault(self, rng: random.Random) -> Fault:
        faults = [fault for fault, _ in self.weights]
        weights = [weight for _, weight in self.weights]
        return rng.choices(faults, weights)[0]

    def next_interval(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean_interval_ms)


CALM = FaultPlan(weights=(), crash_new_leader_chance=0.0)
"""No faults at all: a run that only checks that a healthy cluster makes progress."""

STORM = FaultPlan(
    mean_interval_ms=40.0,
    weights=(
        (Fault.CRASH, 2.0),
        (Fault.CRASH_LEADER, 3.0),
        (Fault.RESTART, 4.0),
        (Fault.PARTITION, 1.0),
        (Fault.ISOLATE_LEADER, 2.0),
        (Fault.ONE_WAY, 0.5),
        (Fault.FLAP, 0.5),
        (Fault.HEAL, 2.0),
        (Fault.DEGRADE, 1.0),
        (Fault.TRANSFER, 1.0),
    ),
    restart_after_ms=(2.0, 120.0),
    stay_down_chance=0.05,
    crash_new_leader_chance=0.5,
)
"""Leaders fall every few election timeouts: the plan that finds election and commit bugs."""

CHANGES = FaultPlan(
    weights=(
        *FaultPlan().weights,
        (Fault.ADD_LEARNER, 2.0),
        (Fault.PROMOTE, 2.0),
        (Fault.REMOVE, 1.5),
        (Fault.REMOVE_LEADER, 0.7),
    ),
)
"""The default faults, and membership changes among them: learners added from the spare
servers, promoted once caught up, voters and leaders removed (a replacement is a removal and
an addition); run it with spares (``SimConfig.spares``)."""
