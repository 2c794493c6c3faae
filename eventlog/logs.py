"""How eventraft processes log: structlog lines, readable on a terminal and JSON otherwise, each
naming the node that wrote it and that node's current Raft term.

The term changes while a node runs and its lines come from many asyncio tasks and worker
threads. A value bound with ``bind_contextvars`` is copied into each task when the task is
created, so a term bound there would go stale in every task started before the change. The
node therefore registers *where to read* its term, once, before it starts any task, and
``add_node_term`` reads it as each line is written.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

__all__ = [
    "add_node_term",
    "bind_node",
    "configure_logging",
    "library_logger",
]

_term_source: ContextVar[Callable[[], int] | None] = ContextVar(
    "eventraft_term_source", default=None
)


def bind_node(node_id: int, term: Callable[[], int] | None = None) -> None:
    """Put ``node_id`` and, if given, the current term (read from ``term`` when each line is
    logged) on every later log line of this context and of the tasks and threads it starts.

    Call it before the node starts its tasks, server and transport, and after whatever
    ``term`` reads from exists; a line's own ``term=`` or ``node_id=`` field wins."""
    structlog.contextvars.bind_contextvars(node_id=node_id)
    if term is not None:
        _term_source.set(term)


def add_node_term(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the term of the node bound with ``bind_node``, if any."""
    source = _term_source.get()
    if source is not None:
        event_dict.setdefault("term", int(source()))
    return event_dict


def library_logger(name: str) -> Any:
    """A logger for code that runs inside someone else's program (the embedded store, the
    storage). If the program configured structlog, its settings apply; if not, warnings and
    errors go to standard error, rather than structlog's default of every level on standard
    output."""
    if structlog.is_configured():
        return structlog.get_logger(name)
    return structlog.wrap_logger(
        structlog.PrintLogger(file=sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_name=name,
    )


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    """structlog for a whole process, on standard error: key-value lines on a terminal, JSON
    lines otherwise (``json`` forces one or the other)."""
    as_json = not sys.stderr.isatty() if json is None else json
    # The console renderer draws tracebacks itself; JSON needs them turned into a field.
    rendering: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if as_json
        else [structlog.dev.ConsoleRenderer()]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_node_term,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *rendering,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
