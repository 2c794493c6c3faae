"""One node of a 3-node PySyncObj cluster, the peer measured beside eventraft's cluster.

    python benchmarks/peer_pysyncobj.py MODE SELF_PORT PEER_PORT PEER_PORT [SECONDS APPENDERS
        SAMPLES]

Every node replicates a list of 100-byte payloads (PySyncObj keeps it in memory and does not
fsync). Modes:

- ``throughput``: PySyncObj's defaults (it batches appends). The leader prints one JSON line:
  committed single-event appends/s with APPENDERS calls in flight, and events/s with appends
  of 100 events.
- ``throughput-nobatch``: the same with ``appendEntriesUseBatch=False``: with its defaults
  PySyncObj sends what is queued once per append period, so each call waits for the next.
- ``latency``: ``appendEntriesUseBatch=False``, PySyncObj's setting for latency. The leader
  prints p50 and p99 of SAMPLES appends one at a time.
- ``failover``: the defaults. Every node appends one event at a time, from wherever it is
  (a follower forwards to the leader), starting one every 5 ms, and prints a JSON line when
  it becomes ready (``{"leader": ...}``) and for each append that succeeds (``{"ok": [start,
  end]}``, wall-clock seconds), so the runner can kill the leader and see when appends resume.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from typing import Any

from pysyncobj import SyncObj, SyncObjConf, replicated

PAYLOAD = b"x" * 100


class Log(SyncObj):  # type: ignore[misc]
    def __init__(self, self_address: str, partners: list[str], conf: SyncObjConf) -> None:
        super().__init__(self_address, partners, conf)
        self.events: list[bytes] = []

    @replicated  # type: ignore[misc]
    def append(self, payload: bytes) -> int:
        self.events.append(payload)
        return len(self.events)

    @replicated  # type: ignore[misc]
    def append_many(self, payloads: list[bytes]) -> int:
        self.events.extend(payloads)
        return len(self.events)


def throughput(log: Log, appenders: int, seconds: float, batch: int) -> float:
    """Events/s with ``appenders`` calls in flight, each of ``batch`` events; each completion
    starts the next call."""
    done = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    payloads = [PAYLOAD] * batch

    def call() -> None:
        if batch == 1:
            log.append(PAYLOAD, callback=on_done)
        else:
            log.append_many(payloads, callback=on_done)

    def on_done(result: object, error: object) -> None:
        nonlocal done
        with lock:
            if error == 0:
                done += batch
        if time.monotonic() < deadline:
            call()

    started = time.monotonic()
    for _ in range(appenders):
        call()
    time.sleep(seconds)
    return done / (time.monotonic() - started)


def latency(log: Log, samples: int) -> list[float]:
    result = []
    for _ in range(samples):
        started = time.perf_counter()
        log.append(PAYLOAD, sync=True, timeout=10)
        result.append((time.perf_counter() - started) * 1000)
    return result


def wait_ready(log: Log) -> None:
    deadline = time.monotonic() + 30
    while not log._isReady() or log._getLeader() is None:
        if time.monotonic() > deadline:
            raise SystemExit("no leader within 30 s")
        time.sleep(0.01)


def keep_appending(log: Log) -> None:
    """An append every 5 ms, whatever became of the earlier ones; each success is reported
    with when its call began, so the runner can tell the appends begun after a kill."""

    def report(started: float) -> Any:
        def on_done(result: object, error: object) -> None:
            if error == 0:
                print(json.dumps({"ok": [started, time.time()]}), flush=True)

        return on_done

    while True:
        log.append(PAYLOAD, callback=report(time.time()))
        time.sleep(0.005)


def main() -> None:
    mode, own, peer_a, peer_b = sys.argv[1:5]
    seconds, appenders, samples = [*sys.argv[5:8], "10", "64", "2000"][:3]
    conf = SyncObjConf(appendEntriesUseBatch=mode not in ("latency", "throughput-nobatch"))
    log = Log(f"127.0.0.1:{own}", [f"127.0.0.1:{peer_a}", f"127.0.0.1:{peer_b}"], conf)
    wait_ready(log)
    leads = log._getLeader() == log.selfNode
    if mode == "failover":
        print(json.dumps({"leader": leads}), flush=True)
        keep_appending(log)
        return
    if not leads:
        time.sleep(float(seconds) * 3 + 60)  # a follower serves until the runner stops it
        return
    if mode.startswith("throughput"):
        figures = {
            "single": throughput(log, int(appenders), float(seconds), 1),
            "batch100": throughput(log, int(appenders), float(seconds), 100),
        }
    else:
        quantiles = statistics.quantiles(latency(log, int(samples)), n=100)
        figures = {"p50": quantiles[49], "p99": quantiles[98]}
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
