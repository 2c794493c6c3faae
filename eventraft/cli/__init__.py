"""The ``eventraft`` command: one group, every subcommand in a module of its own."""

from __future__ import annotations

import click

from eventlog.logs import configure_logging
from eventraft.cli.access import role, user
from eventraft.cli.backup import backup, restore
from eventraft.cli.bench import bench
from eventraft.cli.certs import certs
from eventraft.cli.cluster import cluster, node
from eventraft.cli.demo import demo
from eventraft.cli.errors import Group
from eventraft.cli.log import append, read, status
from eventraft.cli.member import member
from eventraft.cli.options import log_level, log_level_option
from eventraft.cli.projections import project, rebuild
from eventraft.cli.verify import verify


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eventraft", message="eventraft %(version)s")
@log_level_option
def main() -> None:
    """eventraft: event sourcing on a Raft-replicated, LMDB-backed event log."""
    configure_logging(log_level())


commands = (node, cluster, status, append, read, project, rebuild, verify, backup, restore)
for command in (*commands, demo, bench):
    main.add_command(log_level_option(command))
for group in (member, certs, user, role):
    main.add_command(log_level_option(group))
    for subcommand in group.commands.values():
        log_level_option(subcommand)
