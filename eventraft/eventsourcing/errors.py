"""The log's errors as the library's (PEP 249 names), in one table, so an application's
``except IntegrityError`` works on eventraft as it does on SQLite or PostgreSQL.

Conflicts are ``IntegrityError``: the library retries a command, or (a follower) checks its
tracking record, on exactly that. What a caller cannot fix by retrying its data is said by
who is at fault: the data (``DataError``: too large, a name the log refuses), the setup
(``ProgrammingError``: a user without the permission, as psycopg reports PostgreSQL's
``insufficient_privilege``), or the log's operation (``OperationalError``: no leader within
the client's timeout, unreachable, overloaded, full). The original is kept as ``__cause__``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)

import eventlog

__all__ = [
    "ERRORS",
    "persistence_errors",
    "translated",
]

ERRORS: dict[type[eventlog.EventLogError], type[PersistenceError]] = {
    eventlog.WrongExpectedVersion: IntegrityError,
    eventlog.TrackingConflict: IntegrityError,
    eventlog.InvalidRequest: DataError,  # EventTooLarge is one
    eventlog.PermissionDenied: ProgrammingError,
    eventlog.Unavailable: OperationalError,
    eventlog.Overloaded: OperationalError,
    eventlog.NotLeader: OperationalError,
    eventlog.ProposalDropped: OperationalError,
    eventlog.StorageFull: OperationalError,
    eventlog.NodeFailed: OperationalError,
    eventlog.FrameError: OperationalError,
    eventlog.DataDirError: OperationalError,
    eventlog.AuthenticationFailed: OperationalError,
    eventlog.TLSError: OperationalError,
    eventlog.WrongCluster: OperationalError,
    eventlog.CorruptRecord: InternalError,
    eventlog.InvariantViolation: InterfaceError,  # a store used after it was closed
}
"""By the error's class or its nearest base listed; anything else is a ``DatabaseError``."""


def translated(error: eventlog.EventLogError) -> PersistenceError:
    """The library's error for ``error`` (not raised: the caller raises it ``from`` it)."""
    for kind in type(error).__mro__:
        if kind in ERRORS:
            return ERRORS[kind](str(error))
    return DatabaseError(str(error))


@contextmanager
def persistence_errors() -> Iterator[None]:
    """Raise the log's errors inside as the library's. A cluster client's call cancelled
    under it (its factory closed meanwhile, by another thread) is an ``InterfaceError``, not
    a ``CancelledError`` escaping into a thread that has no event loop."""
    try:
        yield
    except eventlog.EventLogError as error:
        raise translated(error) from error
    except asyncio.CancelledError as error:
        raise InterfaceError("the call was cancelled: its factory was closed") from error
