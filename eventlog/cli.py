"""The ``eventraft`` command."""

from __future__ import annotations

import logging
import os
import sys

import click
import structlog
from rich.console import Console

from eventlog.cli_commands import register


def configure_logging(level: str = "info") -> None:
    """structlog everywhere: readable on a terminal, JSON lines otherwise."""
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


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
@click.option("--nodes", type=click.IntRange(3, 9), default=5, show_default=True)
@click.option("--seeds", default=300, show_default=True, help="Seeds in the closing sweep.")
@click.option("--jobs", default=os.cpu_count() or 1, show_default=True)
def demo(nodes: int, seeds: int, jobs: int) -> None:
    """Show a cluster surviving leader crashes and partitions, in the deterministic simulator."""
    from eventlog.sim.demo import run_demo

    if not run_demo(Console(), nodes=nodes, sweep_seeds=seeds, jobs=jobs):
        sys.exit(1)


register(main)

if __name__ == "__main__":
    main()
