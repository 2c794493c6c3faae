"""Running workers for tests: in a thread of this process (over an embedded store), or as
their own processes (``python -m eventraft project``), always stopped by the time the
``with`` block ends, even when the test fails."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import attrs

from eventlog import EmbeddedStore
from eventraft.localcluster import wait_for
from projections import EmbeddedSource, Projection, Worker, WorkerConfig

__all__ = ["InThreadWorker", "WorkerProcess", "in_thread", "wait_for"]


@attrs.define
class InThreadWorker:
    worker: Worker[Any]
    loop: asyncio.AbstractEventLoop
    stop_event: asyncio.Event
    thread: threading.Thread
    error: BaseException | None = None

    @property
    def checkpoint(self) -> int:
        return self.worker.keeper.checkpoint

    def stop(self, timeout: float = 10.0) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
            self.thread.join(timeout)
        assert not self.thread.is_alive(), "the worker did not stop"


@contextmanager
def in_thread(
    projection: Projection[Any], store: EmbeddedStore, target: Path, **config: Any
) -> Iterator[InThreadWorker]:
    """A worker over ``store`` in a thread; ``error`` holds what its ``run`` raised."""
    ready = threading.Event()
    holder: list[InThreadWorker] = []

    def main() -> None:
        async def work() -> None:
            source = EmbeddedSource(store)
            worker = Worker(projection, source, target, WorkerConfig(**config))
            handle = InThreadWorker(
                worker, asyncio.get_running_loop(), asyncio.Event(), threading.current_thread()
            )
            holder.append(handle)
            ready.set()
            try:
                await worker.run(handle.stop_event)
            except BaseException as error:
                handle.error = error
            finally:
                await source.close()

        asyncio.run(work())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(10)
    [handle] = holder
    try:
        yield handle
    finally:
        handle.stop()


@attrs.define
class WorkerProcess:
    """``python -m eventraft project`` as its own process, logging JSON to a file."""

    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        command = [sys.executable, "-m", "eventraft", "project", *self.args]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """kill -9."""
        if self.process is not None:
            with suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def logs(self) -> list[dict[str, Any]]:
        lines = (
            self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        )
        parsed = []
        for line in lines:
            with suppress(ValueError):
                parsed.append(json.loads(line))
        return parsed

    def logged(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.logs() if line.get("event") == event]

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def processes() -> Iterator[list[WorkerProcess]]:
    """Worker processes added to the list are killed when the block ends."""
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.kill()
