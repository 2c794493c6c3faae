"""Running seeds, alone or as a sweep over processes, and adding up what they did."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import attrs

from eventlog.sim.cluster import CoreFactory, SimCluster, open_core
from eventlog.sim.config import SimConfig, Stats
from eventlog.sim.invariants import Violation

__all__ = [
    "SeedResult",
    "Totals",
    "first_failure",
    "run_seed",
    "story_of",
    "sweep",
]


@attrs.frozen
class SeedResult:
    seed: int
    stats: Stats
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def run_seed(
    seed: int, config: SimConfig, core_factory: CoreFactory = open_core, *, trace: bool = False
) -> tuple[SeedResult, list[str]]:
    """One run; with ``trace`` also its trace lines, identical for the same seed and config."""
    cluster = SimCluster(seed, config, core_factory, trace=trace)
    stats, violations = cluster.run()
    return SeedResult(seed, stats, tuple(violations)), cluster.trace or []


def story_of(seed: int, config: SimConfig) -> tuple[SeedResult, list[tuple[float, str]]]:
    cluster = SimCluster(seed, config)
    stats, violations = cluster.run()
    return SeedResult(seed, stats, tuple(violations)), cluster.story


def _run_one(job: tuple[int, SimConfig]) -> SeedResult:
    return run_seed(*job)[0]


def sweep(seeds: range, config: SimConfig, jobs: int) -> Iterator[SeedResult]:
    """Results in seed order, computed on ``jobs`` processes."""
    work = [(seed, config) for seed in seeds]
    if jobs <= 1:
        yield from map(_run_one, work)
        return
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        yield from pool.imap(_run_one, work, chunksize=8)


@attrs.define
class Totals:
    seeds: int = 0
    failed: int = 0
    time_ms: float = 0.0
    max_recovery_ms: float = 0.0
    stats: dict[str, float] = attrs.field(factory=dict)
    failures: list[SeedResult] = attrs.field(factory=list)

    def add(self, result: SeedResult) -> None:
        self.seeds += 1
        for field in attrs.fields(Stats):
            self.stats[field.name] = self.stats.get(field.name, 0) + getattr(
                result.stats, field.name
            )
        self.max_recovery_ms = max(self.max_recovery_ms, result.stats.recovery_ms)
        if not result.ok:
            self.failed += 1
            self.failures.append(result)


def first_failure(seeds: range, config: SimConfig, core_factory: CoreFactory) -> SeedResult | None:
    """The first seed whose run breaks an invariant (used to prove the checks have teeth)."""
    for seed in seeds:
        result, _ = run_seed(seed, config, core_factory)
        if not result.ok:
            return result
    return None
