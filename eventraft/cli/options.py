"""Options that several commands share, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from eventlog.logs import configure_logging

F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LOG_LEVEL = "info"
_LOG_LEVEL_KEY = "eventraft.log_level"


def cluster_option(f: Any) -> Any:
    return click.option(
        "--cluster",
        "addresses",
        required=True,
        metavar="ADDRS",
        help="Comma-separated HOST:PORT of one or more nodes; any node will do.",
    )(f)


def cluster_id_option(f: Any) -> Any:
    return click.option(
        "--cluster-id",
        default=None,
        help="The cluster's id; nodes and clients of another cluster are refused. "
        "[default: a node takes the id stored in its data dir (a fresh set of nodes is named "
        "by its first leader); a client learns it from the first node it reaches]",
    )(f)


def quota_option(f: Any) -> Any:
    return click.option(
        "--quota-bytes",
        type=click.IntRange(min=1),
        default=None,
        help="Bytes a node's store may hold; past them it raises a NOSPACE alarm and the "
        "cluster refuses appends (reads go on) until there is room.  [default: no quota]",
    )(f)


def timeout_option(default: float, what: str) -> Callable[[F], F]:
    """``--timeout`` in seconds, with ``what`` the deadline bounds."""
    option: Callable[[F], F] = click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=default,
        show_default=True,
        help=f"Seconds {what} may take, retries across leader changes included.",
    )
    return option


def _set_log_level(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    """Given before or after the subcommand, the last one given wins; the commands that start
    nodes read it back with ``log_level``."""
    if value is None:
        return
    ctx.find_root().meta[_LOG_LEVEL_KEY] = value.lower()
    configure_logging(value.lower())


def log_level_option(f: Any) -> Any:
    """``--log-level``, for the group and every subcommand alike."""
    return click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_set_log_level,
        help="The least severe log lines written to standard error; the nodes that "
        f"`cluster` and `bench` start log at this level too.  [default: {DEFAULT_LOG_LEVEL}]",
    )(f)


def log_level(ctx: click.Context | None = None) -> str:
    """The level ``--log-level`` set, wherever it was given."""
    context = ctx or click.get_current_context()
    level: str = context.find_root().meta.get(_LOG_LEVEL_KEY, DEFAULT_LOG_LEVEL)
    return level
