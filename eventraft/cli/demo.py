"""``eventraft demo``: a real local cluster through a failover, or the simulator's story."""

from __future__ import annotations

import os
import sys

import click

from eventraft.console import output_console


@click.command()
@click.option(
    "--sim",
    is_flag=True,
    help="Run the deterministic simulator's story and a seed sweep instead of real processes.",
)
@click.option(
    "--nodes",
    type=click.IntRange(3, 9),
    default=None,
    help="How many nodes the cluster has.  [default: 3, or 5 with --sim]",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    help="With --sim: how many seeds the sweep runs.  [default: 300]",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="With --sim: processes the sweep runs in.  [default: one per core]",
)
def demo(sim: bool, nodes: int | None, seeds: int | None, jobs: int | None) -> None:
    """Start a real local cluster, write and read events, kill -9 its leader under load and
    bring the node back, checking every claim. With --sim: a cluster through crashes and
    partitions in the deterministic simulator, then a sweep of seeds. Exits 1 if a check
    fails."""
    console = output_console()
    if sim:
        from eventraft.demo.sim import run_demo

        passed = run_demo(
            console, nodes=nodes or 5, sweep_seeds=seeds or 300, jobs=jobs or os.cpu_count() or 1
        )
    else:
        if seeds is not None or jobs is not None:
            raise click.UsageError("--seeds and --jobs apply to --sim only")
        from eventraft.demo import run_cluster_demo

        passed = run_cluster_demo(console, nodes=nodes or 3)
    if not passed:
        sys.exit(1)
