"""The ``eventraft`` command: one group, every subcommand in a module of its own."""

from __future__ import annotations

import click

from eventlog.logs import configure_logging
from eventraft.cli.bench import bench
from eventraft.cli.cluster import cluster, node
from eventraft.cli.demo import demo
from eventraft.cli.log import append, read, status
from eventraft.cli.projections import project, rebuild


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


for command in (node, cluster, status, append, read, project, rebuild, demo, bench):
    main.add_command(command)
