"""What a person reads after a run: a summary table, a failure with its seed, a run's story."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from eventlog.sim.cluster import CoreFactory, open_core
from eventlog.sim.config import SimConfig
from eventlog.sim.run import SeedResult, Totals, run_seed

__all__ = [
    "print_story",
    "replay_command",
    "report_failure",
    "summary_table",
]

_ROWS = (
    ("virtual time simulated", "time_ms", "{:,.1f} s", 1 / 1000),
    ("steps (events handled)", "steps", "{:,.0f}", 1),
    ("leaders elected", "elections", "{:,.0f}", 1),
    ("leader changes", "leader_changes", "{:,.0f}", 1),
    ("leadership transfers asked", "transfers", "{:,.0f}", 1),
    ("learners added", "learners_added", "{:,.0f}", 1),
    ("learners promoted to voters", "promotions", "{:,.0f}", 1),
    ("members removed (besides leaders)", "removals", "{:,.0f}", 1),
    ("leaders removed", "leader_removals", "{:,.0f}", 1),
    ("node crashes", "crashes", "{:,.0f}", 1),
    ("unsynced writes lost in crashes", "lost_writes", "{:,.0f}", 1),
    ("partitions (split, one-way, flapping)", "partitions", "{:,.0f}", 1),
    ("messages sent", "messages", "{:,.0f}", 1),
    ("messages dropped", "dropped", "{:,.0f}", 1),
    ("messages duplicated", "duplicated", "{:,.0f}", 1),
    ("fsyncs", "fsyncs", "{:,.0f}", 1),
    ("proposals accepted by a leader", "proposals", "{:,.0f}", 1),
    ("proposals acknowledged committed", "acknowledged", "{:,.0f}", 1),
    ("entries committed", "committed", "{:,.0f}", 1),
    ("events appended by the state machine", "events", "{:,.0f}", 1),
    ("requests refused alike on every node", "refusals", "{:,.0f}", 1),
    ("linearizable reads served", "reads", "{:,.0f}", 1),
)


def summary_table(totals: Totals, config: SimConfig, wall_seconds: float) -> Table:
    table = Table(title=f"eventlog.sim: {totals.seeds:,} seeds, {config.nodes} nodes")
    table.add_column("what", style="bold")
    table.add_column("total", justify="right")
    for label, key, fmt, scale in _ROWS:
        table.add_row(label, fmt.format(totals.stats.get(key, 0) * scale))
    table.add_row("slowest recovery after faults", f"{totals.max_recovery_ms:,.0f} ms")
    if wall_seconds:
        table.add_row("wall time", f"{wall_seconds:,.1f} s")
    verdict = "[green]0[/green]" if not totals.failed else f"[red]{totals.failed}[/red]"
    table.add_row("seeds with a violation", verdict)
    return table


def replay_command(seed: int, config: SimConfig, faults: str) -> str:
    return (
        f"python -m eventlog.sim --seed {seed} --nodes {config.nodes} "
        f"--steps {config.steps} --faults {faults} --trace"
    )


def report_failure(
    console: Console,
    result: SeedResult,
    config: SimConfig,
    faults: str,
    directory: Path,
    core_factory: CoreFactory = open_core,
) -> Path:
    """Print the violation and its seed, and write the run's full trace next to it."""
    _, trace = run_seed(result.seed, config, core_factory, trace=True)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"seed-{result.seed}.trace"
    path.write_text("\n".join(trace) + "\n")
    console.print(f"[red bold]VIOLATION[/] seed {result.seed}:")
    for violation in result.violations:
        console.print(f"  {violation}", markup=False, highlight=False)
    console.print("  last trace lines:")
    for line in trace[-25:]:
        console.print(f"    {line}", markup=False, highlight=False)
    console.print(f"  full trace: {path}")
    console.print(f"  replay: {replay_command(result.seed, config, faults)}")
    return path


def print_story(console: Console, story: Sequence[tuple[float, str]]) -> None:
    for time_ms, text in story:
        console.print(f"  [dim]{time_ms / 1000:7.3f}s[/dim]  {text}")
