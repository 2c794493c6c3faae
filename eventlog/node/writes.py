"""The node's write pipeline: Readys in hand, written in order in one writer thread.

The Ready loop hands a Ready here and goes on: it may take the next Ready, and send that
one's AppendEntries, while the last one's fsync runs (``Ready``'s contract, thesis §10.2.1).
So the followers write the leader's next entries while the leader writes its last ones.
Whatever is handed while one write runs goes into the next write, together: one transaction
and one fsync for all of them (``merge``), started as soon as the last one ends. Each Ready is
then finished (what waited for the write, and ``advance``) oldest first, so writes land,
messages that promise them go, and committed entries apply in the order the core handed
them out.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from eventlog.raft.ready import Ready
from eventlog.raft.records import Entry, HardState

__all__ = [
    "Merged",
    "Writes",
    "merge",
]


@attrs.frozen(slots=True)
class Merged:
    """What several Readys, handed one after another, ask to be written: as one Ready."""

    hard_state: HardState | None
    entries: tuple[Entry, ...]
    committed: tuple[Entry, ...]
    must_sync: bool


def merge(readys: Sequence[Ready]) -> Merged:
    """The last hard state; the entries as the log holds them after all the writes (a later
    Ready's entries replace the earlier ones' from its first index on); every committed
    entry, in order (each Ready holds only what earlier ones did not)."""
    if len(readys) == 1:
        [rd] = readys
        return Merged(rd.hard_state, rd.entries, rd.committed, rd.must_sync)
    hard_state: HardState | None = None
    entries: list[Entry] = []
    committed: list[Entry] = []
    for rd in readys:
        if rd.hard_state is not None:
            hard_state = rd.hard_state
        if rd.entries:
            if entries:  # consecutive, so the replaced ones are a suffix
                del entries[max(0, rd.entries[0].index - entries[0].index) :]
            entries.extend(rd.entries)
        committed.extend(rd.committed)
    must_sync = any(rd.must_sync for rd in readys)
    return Merged(hard_state, tuple(entries), tuple(committed), must_sync)


class Writes:
    def __init__(
        self,
        pipelined: bool,
        persist: Callable[[Merged], Awaitable[None]],
        finish: Callable[[Ready], None],
    ) -> None:
        self.pipelined = pipelined
        """False: the loop takes the next Ready only once the last one is finished."""
        self._persist, self._finish = persist, finish
        self._queue: deque[Ready] = deque()
        self._queued = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storage-writer")

    @property
    def idle(self) -> bool:
        """No Ready in hand: nothing is being written, nothing waits to be."""
        return not self._queue

    def has_room(self) -> bool:
        return self.pipelined or not self._queue

    def put(self, rd: Ready) -> None:
        self._queue.append(rd)
        self._queued.set()

    async def run(self) -> None:
        """Persist and finish each Ready in hand, oldest first; a failure ends the task
        (and so the node: ``Node._loop_ended``)."""
        while True:
            await self._queued.wait()
            readys = list(self._queue)
            await self._persist(merge(readys))
            for rd in readys:
                self._queue.popleft()
                self._finish(rd)
            if not self._queue:
                self._queued.clear()

    async def in_thread(self, write: Callable[..., object], *args: Any) -> None:
        """Run a storage write in the writer thread: one thread, so writes keep their order
        and LMDB's write transactions stay on the thread that began them; the loop meanwhile
        keeps stepping messages and taking proposals (the fsync releases the GIL)."""
        context = contextvars.copy_context()
        await asyncio.get_running_loop().run_in_executor(
            self._thread, functools.partial(context.run, write, *args)
        )

    def shutdown(self) -> None:
        """Wait for a write still running in the thread (its task may have been cancelled)."""
        self._thread.shutdown(wait=True)
