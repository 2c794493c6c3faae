"""Slowing password guesses down, per source: each failed sign-in from an address makes the
next attempts from it wait longer, one at a time.

The first failure costs nothing more than the hash itself; after that, an attempt from the
same source waits ``base * 2**(failures - 1)`` seconds (at most ``cap``) before its password
is even checked, and attempts from that source take turns, so opening many connections at
once guesses no faster. A success clears the source; a source quiet for ``forget_after``
seconds is forgotten. Sources are kept for the ``max_sources`` most recent only, so a flood of
addresses cannot grow the table without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable

import attrs

__all__ = [
    "Throttle",
]


@attrs.define
class _Source:
    failures: int = 0
    last: float = 0.0
    turn: asyncio.Lock = attrs.field(factory=asyncio.Lock)


@attrs.define
class Throttle:
    base: float = 0.5
    cap: float = 10.0
    forget_after: float = 600.0
    max_sources: int = 10_000
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _sources: OrderedDict[str, _Source] = attrs.field(factory=OrderedDict, init=False)

    def delay(self, source: str) -> float:
        """Seconds the next attempt from ``source`` waits before it is checked."""
        entry = self._current(source)
        if entry is None or entry.failures < 2:
            return 0.0
        return float(min(self.cap, self.base * 2 ** (entry.failures - 2)))

    @contextlib.asynccontextmanager
    async def turn(self, source: str) -> AsyncIterator[None]:
        """Hold an attempt from ``source`` until its turn and its delay have come."""
        entry = self._current(source)
        if entry is None or entry.failures == 0:
            yield
            return
        async with entry.turn:
            pause = self.delay(source)
            if pause > 0:
                await self.sleep(pause)
            yield

    def failed(self, source: str) -> int:
        """Count a failure; the failures from ``source`` so far."""
        entry = self._current(source) or _Source()
        entry.failures += 1
        entry.last = self.clock()
        self._sources[source] = entry
        self._sources.move_to_end(source)
        while len(self._sources) > self.max_sources:
            self._sources.popitem(last=False)
        return entry.failures

    def succeeded(self, source: str) -> None:
        self._sources.pop(source, None)

    def _current(self, source: str) -> _Source | None:
        entry = self._sources.get(source)
        if entry is not None and self.clock() - entry.last > self.forget_after:
            del self._sources[source]
            return None
        return entry
