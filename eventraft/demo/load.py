"""Steady appends while the demo breaks things: writer threads, each with its own client,
recording every acknowledged append with the position the cluster gave it."""

from __future__ import annotations

import itertools
import json
import threading
import time
from types import TracebackType

import attrs

from eventlog.client import Client
from eventlog.errors import EventLogError
from eventlog.records import NewEvent


@attrs.frozen(kw_only=True)
class Ack:
    """An append the cluster acknowledged: it must be in the log, once, at ``position``."""

    stream: str
    data: bytes
    position: int
    at: float
    """``time.monotonic()`` when the acknowledgement arrived."""


class Load:
    """``writers`` threads appending one event at a time to their own streams until stopped.

    An append that fails (its deadline passed) has an unknown outcome: it may or may not be
    in the log. It is counted, not retried, and the checks allow it at most once."""

    def __init__(self, addresses: str, *, writers: int = 4, timeout: float = 10.0) -> None:
        self._addresses, self._timeout = addresses, timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._acks: list[Ack] = []
        self._unknown: list[str] = []
        self.streams = [f"writer-{n}" for n in range(1, writers + 1)]
        self._threads = [
            threading.Thread(target=self._write, args=(stream,), name=stream, daemon=True)
            for stream in self.streams
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Let each writer finish the append it is in (bounded by its timeout), then return."""
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=self._timeout + 5)

    def acks(self) -> list[Ack]:
        with self._lock:
            return list(self._acks)

    def unknown(self) -> list[str]:
        """Appends whose deadline passed, as ``stream #n: error``."""
        with self._lock:
            return list(self._unknown)

    def acked_since(self, moment: float) -> list[Ack]:
        return [ack for ack in self.acks() if ack.at > moment]

    def _write(self, stream: str) -> None:
        with Client(self._addresses, timeout=self._timeout) as client:
            for sequence in itertools.count(1):
                if self._stop.is_set():
                    return
                data = json.dumps({"writer": stream, "seq": sequence}).encode()
                try:
                    result = client.append(stream, [NewEvent("Written", data)])
                except EventLogError as error:
                    with self._lock:
                        self._unknown.append(f"{stream} #{sequence}: {error}")
                    continue
                ack = Ack(
                    stream=stream, data=data, position=result.first_position, at=time.monotonic()
                )
                with self._lock:
                    self._acks.append(ack)
