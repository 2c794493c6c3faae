"""Repeat a command on a concurrency conflict, a bounded number of times.

The function must do the whole unit of work (load, command, save), so each attempt starts
from the state the conflicting writer left. Domain errors and every other error pass through
at once; after the last attempt the last ``ConcurrencyError`` is raised.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aggregates.errors import ConcurrencyError

T = TypeVar("T")
DEFAULT_ATTEMPTS = 5
DEFAULT_BACKOFF = 0.005
"""Seconds; attempt n waits a random time up to ``backoff * 2**n`` so that writers in a
conflict do not meet again at once."""


def _check(attempts: int) -> None:
    if attempts < 1:
        raise ValueError(f"attempts must be 1 or more, not {attempts}")


def _pause(attempt: int, backoff: float) -> float:
    return random.uniform(0, backoff * 2**attempt) if backoff > 0 else 0.0


def retry_on_conflict(
    unit_of_work: Callable[[], T],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    conflicts: tuple[type[Exception], ...] = (ConcurrencyError,),
) -> T:
    """``unit_of_work()``, repeated when it raises one of ``conflicts`` (a raw append's
    ``WrongExpectedVersion`` too, if named)."""
    _check(attempts)
    for attempt in range(attempts):
        try:
            return unit_of_work()
        except conflicts:
            if attempt == attempts - 1:
                raise
        time.sleep(_pause(attempt, backoff))
    raise AssertionError("unreachable")


async def retry_on_conflict_async(
    unit_of_work: Callable[[], Awaitable[T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    conflicts: tuple[type[Exception], ...] = (ConcurrencyError,),
) -> T:
    _check(attempts)
    for attempt in range(attempts):
        try:
            return await unit_of_work()
        except conflicts:
            if attempt == attempts - 1:
                raise
        await asyncio.sleep(_pause(attempt, backoff))
    raise AssertionError("unreachable")
