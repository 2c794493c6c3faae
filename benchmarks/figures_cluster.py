"""The suite's cluster figures: (a) appends on a 3-node cluster, (e) failover, (f) overload;
eventraft's and, where the suite has one, PySyncObj's. Each function returns its figures as a
flat dict of floats; ``suite.py`` runs each in a fresh process, several times."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from bench_overload import run_load

from eventlog import AsyncClient, EventLogError, NewEvent
from eventraft.bench import measure, run_loop
from eventraft.localcluster import free_ports, local_cluster

PEER_SCRIPT = Path(__file__).with_name("peer_pysyncobj.py")


# -- (a) appends ----------------------------------------------------------------------------
def eventraft_appends(seconds: float, appenders: int, samples: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp)) as cluster:
        cluster.leader(timeout=30)
        figures = measure(
            cluster.addresses, appenders=appenders, seconds=seconds, samples=samples, batch=100
        )
    return {
        "shared": figures.shared_rate,
        "separate": figures.separate_rate,
        "batch100": figures.batch_rate,
        "p50": figures.p50_ms,
        "p99": figures.p99_ms,
    }


@contextlib.contextmanager
def pysyncobj_cluster(mode: str, *args: str) -> Iterator[list[subprocess.Popen[str]]]:
    ports = free_ports(3)
    nodes = []
    try:
        for i, own in enumerate(ports):
            others = [str(p) for j, p in enumerate(ports) if j != i]
            nodes.append(
                subprocess.Popen(
                    [sys.executable, str(PEER_SCRIPT), mode, str(own), *others, *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )
        yield nodes
    finally:
        for node in nodes:
            node.kill()
            node.wait()


def _leader_figures(mode: str, seconds: float, appenders: int, samples: int) -> dict[str, float]:
    """Run a PySyncObj cluster in ``mode``; its leader measures and prints one JSON line."""
    with pysyncobj_cluster(mode, str(seconds), str(appenders), str(samples)) as nodes:
        deadline = time.monotonic() + 3 * seconds + 120
        while time.monotonic() < deadline:
            for node in nodes:
                if node.poll() is not None and node.stdout is not None:
                    output = node.stdout.read().strip()
                    if output:
                        figures: dict[str, float] = json.loads(output.splitlines()[-1])
                        return figures
            time.sleep(0.1)
    raise SystemExit(f"the PySyncObj cluster ({mode}) produced no figures")


def pysyncobj_appends(seconds: float, appenders: int, samples: int) -> dict[str, float]:
    throughput = _leader_figures("throughput", seconds, appenders, samples)
    unbatched = _leader_figures("throughput-nobatch", seconds, appenders, samples)
    latency = _leader_figures("latency", seconds, appenders, samples)
    return {
        "shared": throughput["single"],
        "separate": throughput["single"],
        "batch100": throughput["batch100"],
        "shared_nobatch": unbatched["single"],
        "batch100_nobatch": unbatched["batch100"],
        "p50": latency["p50"],
        "p99": latency["p99"],
    }


# -- (e) failover ---------------------------------------------------------------------------
def eventraft_failover(kills: int) -> dict[str, float]:
    """kill -9 of the leader under one append at a time, to the first acknowledgement of an
    append begun after the kill; each kill on a fresh cluster."""
    samples = [_eventraft_failover_once() for _ in range(kills)]
    return {"median": statistics.median(samples), "max": max(samples)}


def _eventraft_failover_once() -> float:
    with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp)) as cluster:
        leader = cluster.leader(timeout=30)
        return run_loop(
            _append_through_kill(cluster.addresses, lambda: cluster.nodes[leader].kill())
        )


async def _append_through_kill(addresses: str, kill: Any) -> float:
    async with AsyncClient(addresses, timeout=30) as client:
        event = [NewEvent("Bench", b"x" * 100)]
        for _ in range(200):  # steady state: the client knows the leader
            await client.append("failover", event)
        kill()
        killed = time.monotonic()
        while True:
            started = time.monotonic()
            try:
                await client.append("failover", event)
            except EventLogError:
                continue
            if started >= killed:
                return time.monotonic() - killed


def pysyncobj_failover(kills: int) -> dict[str, float]:
    samples = [_pysyncobj_failover_once() for _ in range(kills)]
    return {"median": statistics.median(samples), "max": max(samples)}


def _pysyncobj_failover_once() -> float:
    with pysyncobj_cluster("failover") as nodes:
        ready = [json.loads(_line(node.stdout)) for node in nodes]
        leaders = [n for n, line in enumerate(ready) if line.get("leader")]
        if len(leaders) != 1:
            raise RuntimeError(f"PySyncObj reported {len(leaders)} leaders at start")
        time.sleep(0.5)  # steady state: every node appending
        nodes[leaders[0]].kill()
        killed = time.time()
        survivors = [node for n, node in enumerate(nodes) if n != leaders[0]]
        return _first_ok_after(survivors, killed)


def _line(stream: IO[str] | None) -> str:
    assert stream is not None
    line = stream.readline()
    if not line:
        raise RuntimeError("a PySyncObj node ended without a report")
    return line


def _first_ok_after(nodes: list[subprocess.Popen[str]], killed: float) -> float:
    """The end of the first append that began after the kill, as reported by any survivor."""
    import selectors

    selector = selectors.DefaultSelector()
    for node in nodes:
        assert node.stdout is not None
        selector.register(node.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            report = json.loads(_line(key.fileobj))  # type: ignore[arg-type]
            if "ok" in report and report["ok"][0] >= killed:
                return float(report["ok"][1]) - killed
    raise RuntimeError("PySyncObj did not commit within 30 s of the kill")


# -- (f) overload ---------------------------------------------------------------------------
def eventraft_overload(seconds: float, in_flight: int) -> dict[str, float]:
    """The steady rate with 64 in flight, then ``in_flight`` for ``seconds``."""
    results = {}
    for label, flight, length in (("steady", 64, 10.0), ("overload", in_flight, seconds)):
        with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp)) as cluster:
            cluster.leader(timeout=30)
            results[label] = asyncio.run(run_load(cluster, flight, length))
    steady = statistics.median(results["steady"]["rates"][2:])
    over = results["overload"]
    after_start = over["rates"][2:]
    rss = [s["leader_rss"] for s in over["samples"] if s["leader_rss"]]
    anon = [s["leader_anon"] for s in over["samples"] if s["leader_anon"]]
    return {
        "steady": steady,
        "rate": statistics.median(after_start),
        "worst_share": min(after_start) / steady,
        "leader_changes": over["leader_changes"],
        "overloaded": over["errors"].get("Overloaded", 0),
        "errors": sum(n for name, n in over["errors"].items() if name != "Overloaded"),
        "lost": over["lost"] + over["duplicated"],
        "rss_start": rss[0] if rss else 0.0,
        "rss_end": rss[-1] if rss else 0.0,
        "anon_start": anon[0] if anon else 0.0,
        "anon_mid": anon[len(anon) // 2] if anon else 0.0,
        "anon_end": anon[-1] if anon else 0.0,
    }
