"""The node's clock of ticks: logical time for the core, at a steady wall-clock rate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = [
    "tick_every",
]


async def tick_every(interval: float, tick: Callable[[], None]) -> None:
    """Call ``tick`` every ``interval`` seconds, on the schedule rather than after each call.
    A loop held up skips the missed ticks rather than fire them in a burst, which would age
    every peer at once before their answers are read."""
    loop = asyncio.get_running_loop()
    next_tick = loop.time()
    while True:
        next_tick += interval
        delay = next_tick - loop.time()
        if delay < 0:
            next_tick, delay = loop.time(), 0.0
        await asyncio.sleep(delay)
        tick()
