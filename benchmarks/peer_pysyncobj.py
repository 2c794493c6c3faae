"""One node of a 3-node PySyncObj cluster, the peer ``bench_cluster.py`` measures beside us.

    python benchmarks/peer_pysyncobj.py SELF_PORT PEER_PORT PEER_PORT SECONDS APPENDERS SAMPLES

Every node replicates a list of 100-byte payloads (PySyncObj keeps it in memory and does not
fsync). The node that becomes leader runs the workload and prints one JSON line: committed
appends/s with APPENDERS calls in flight, then the latency of SAMPLES appends one at a time.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time

from pysyncobj import SyncObj, SyncObjConf, replicated

PAYLOAD = b"x" * 100


class Log(SyncObj):  # type: ignore[misc]
    def __init__(self, self_address: str, partners: list[str]) -> None:
        super().__init__(self_address, partners, SyncObjConf(appendEntriesUseBatch=False))
        self.events: list[bytes] = []

    @replicated  # type: ignore[misc]
    def append(self, payload: bytes) -> int:
        self.events.append(payload)
        return len(self.events)


def throughput(log: Log, appenders: int, seconds: float) -> float:
    """``appenders`` calls in flight; each completion starts the next one."""
    done = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def on_done(result: object, error: object) -> None:
        nonlocal done
        with lock:
            if error == 0:
                done += 1
        if time.monotonic() < deadline:
            log.append(PAYLOAD, callback=on_done)

    started = time.monotonic()
    for _ in range(appenders):
        log.append(PAYLOAD, callback=on_done)
    time.sleep(seconds)
    return done / (time.monotonic() - started)


def latency(log: Log, samples: int) -> list[float]:
    result = []
    for _ in range(samples):
        started = time.perf_counter()
        log.append(PAYLOAD, sync=True, timeout=10)
        result.append((time.perf_counter() - started) * 1000)
    return result


def main() -> None:
    own, peer_a, peer_b, seconds, appenders, samples = sys.argv[1:7]
    log = Log(f"127.0.0.1:{own}", [f"127.0.0.1:{peer_a}", f"127.0.0.1:{peer_b}"])
    deadline = time.monotonic() + 30
    while not log._isReady() or log._getLeader() is None:
        if time.monotonic() > deadline:
            raise SystemExit("no leader within 30 s")
        time.sleep(0.05)
    if log._getLeader() != log.selfNode:
        time.sleep(float(seconds) + 60)  # a follower serves until the runner stops it
        return
    rate = throughput(log, int(appenders), float(seconds))
    quantiles = statistics.quantiles(latency(log, int(samples)), n=100)
    print(json.dumps({"rate": rate, "p50": quantiles[49], "p99": quantiles[98]}), flush=True)


if __name__ == "__main__":
    main()
