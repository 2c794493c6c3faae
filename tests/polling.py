"""Waiting for a state in tests: poll the condition until a deadline, never sleep a guess."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

DEADLINE = 10.0
"""Seconds a condition may take to hold before the test fails (a bound, never a timing)."""


async def eventually(condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """Return once ``condition()`` holds; TimeoutError if it does not within ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)
