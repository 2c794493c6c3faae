"""``python -m eventlog.sim``: run seeded simulations of a cluster and check Raft's safety."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from eventlog.sim.config import SimConfig
from eventlog.sim.faults import CALM, CHANGES, STORM, FaultPlan
from eventlog.sim.report import report_failure, summary_table
from eventlog.sim.run import Totals, run_seed, sweep

PLANS: dict[str, FaultPlan] = {
    "default": FaultPlan(),
    "storm": STORM,
    "calm": CALM,
    "changes": CHANGES,
}
SPARES: dict[str, int] = {"changes": 2}
"""Servers outside the first configuration, for the plans that change membership."""


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--seeds", default=100, show_default=True, help="How many seeds to run.")
@click.option("--first-seed", default=0, show_default=True, help="The first seed of a sweep.")
@click.option("--seed", type=int, default=None, help="Run this one seed (replays it exactly).")
@click.option("--nodes", type=click.IntRange(1, 9), default=3, show_default=True)
@click.option(
    "--steps", default=3000, show_default=True, help="Events per run while faults strike."
)
@click.option(
    "--faults",
    type=click.Choice(sorted(PLANS)),
    default="default",
    show_default=True,
    help="Fault plan: default mix, storm (leaders fall constantly) or calm (none).",
)
@click.option("--jobs", default=os.cpu_count() or 1, show_default=True, help="Processes.")
@click.option("--trace", is_flag=True, help="With --seed: print the run's full trace.")
@click.option(
    "--failures-dir",
    type=click.Path(path_type=Path),
    default=Path("sim-failures"),
    show_default=True,
    help="Where traces of failing seeds are written.",
)
def main(
    seeds: int,
    first_seed: int,
    seed: int | None,
    nodes: int,
    steps: int,
    faults: str,
    jobs: int,
    trace: bool,
    failures_dir: Path,
) -> None:
    """Drive whole clusters through crashes, partitions, loss and lost unsynced writes,
    checking Raft's safety properties after every step. Exits 1 on any violation."""
    console = Console()
    config = SimConfig(nodes=nodes, steps=steps, faults=PLANS[faults], spares=SPARES.get(faults, 0))
    if seed is not None:
        result, lines = run_seed(seed, config, trace=trace)
        for line in lines:
            click.echo(line)
        totals = Totals()
        totals.add(result)
        console.print(summary_table(totals, config, 0.0))
        if not result.ok:
            report_failure(console, result, config, faults, failures_dir)
            sys.exit(1)
        return
    totals = Totals()
    started = time.monotonic()
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("simulating", total=seeds)
        for result in sweep(range(first_seed, first_seed + seeds), config, jobs):
            totals.add(result)
            progress.advance(task)
    console.print(summary_table(totals, config, time.monotonic() - started))
    for failure in totals.failures[:5]:
        report_failure(console, failure, config, faults, failures_dir)
    if totals.failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
