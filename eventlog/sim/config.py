"""What a simulated run is asked to do, and what it counts while doing it."""

from __future__ import annotations

from typing import Any

import attrs

from eventlog.sim.faults import FaultPlan

__all__ = [
    "SimConfig",
    "Stats",
]


@attrs.frozen(kw_only=True)
class SimConfig:
    nodes: int = 3
    """The voters the cluster starts with."""
    spares: int = 0
    """Servers that run from the start outside the configuration, for changes to add."""
    steps: int = 3000
    """Events (ticks, deliveries, fsyncs, client calls, faults) in the fault phase."""
    tick_ms: float = 10.0
    propose_interval_ms: float = 6.0
    read_interval_ms: float = 40.0
    recovery_bound_ms: float = 10_000.0
    """After the faults stop, the cluster must converge within this much virtual time."""
    faults: FaultPlan = FaultPlan()
    clients: bool = True
    """Random client proposals and reads; scripted runs switch them off."""
    raft_overrides: tuple[tuple[str, Any], ...] = ()
    """RaftConfig fields to fix instead of drawing them from the seed."""
    writes_in_flight: int = 0
    """Readys each host may hold at once; 0 draws it per node from the seed (1, 2 or 4)."""


@attrs.define
class Stats:
    steps: int = 0
    time_ms: float = 0.0
    recovery_ms: float = 0.0
    elections: int = 0
    leader_changes: int = 0
    crashes: int = 0
    lost_writes: int = 0
    partitions: int = 0
    transfers: int = 0
    proposals: int = 0
    acknowledged: int = 0
    reads: int = 0
    committed: int = 0
    events: int = 0
    refusals: int = 0
    messages: int = 0
    dropped: int = 0
    duplicated: int = 0
    fsyncs: int = 0
    learners_added: int = 0
    """Membership changes a leader took, by kind (``sim.members``)."""
    promotions: int = 0
    removals: int = 0
    leader_removals: int = 0
