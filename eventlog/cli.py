"""The ``eventraft`` command."""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

import click

from eventlog.cli_commands import register
from eventlog.console import output_console
from eventlog.logs import configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def main(log_level: str) -> None:
    """eventraft: event sourcing on a Raft-replicated, LMDB-backed event log."""
    configure_logging(log_level)


@main.command()
@click.option(
    "--sim",
    is_flag=True,
    help="Run the deterministic simulator's story and a seed sweep instead of real processes.",
)
@click.option(
    "--nodes",
    type=click.IntRange(3, 9),
    default=None,
    help="Cluster size.  [default: 3, or 5 with --sim]",
)
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="--sim: seeds to sweep.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="--sim: processes.")
def demo(sim: bool, nodes: int | None, seeds: int | None, jobs: int | None) -> None:
    """Start a real local cluster, write and read events, kill -9 its leader under load and
    bring the node back, checking every claim. With --sim: a cluster through crashes and
    partitions in the deterministic simulator, then a sweep of seeds. Exits 1 if a check
    fails."""
    console = output_console()
    if sim:
        from eventlog.sim.demo import run_demo

        passed = run_demo(
            console, nodes=nodes or 5, sweep_seeds=seeds or 300, jobs=jobs or os.cpu_count() or 1
        )
    else:
        if seeds is not None or jobs is not None:
            raise click.UsageError("--seeds and --jobs apply to --sim only")
        from eventlog.demo import run_cluster_demo

        passed = run_cluster_demo(console, nodes=nodes or 3)
    if not passed:
        sys.exit(1)


def register_plugins(group: click.Group) -> None:
    """Add the commands other packages declare under the ``eventraft.commands`` entry point
    (``project`` and ``rebuild`` come from ``projections``, which sits above this package and
    so cannot be imported from here)."""
    for entry in entry_points(group="eventraft.commands"):
        try:
            command = entry.load()
        except (ImportError, AttributeError) as error:
            click.echo(f"eventraft: command {entry.name!r} is unavailable: {error}", err=True)
            continue
        if isinstance(command, click.Command):
            group.add_command(command, entry.name)


register(main)
register_plugins(main)

if __name__ == "__main__":
    main()
