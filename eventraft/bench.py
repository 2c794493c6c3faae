"""Measuring a running cluster: committed appends/s under concurrent appenders, and the latency
of one append at a time. Used by ``eventraft bench`` and by ``benchmarks/bench_cluster.py``,
which puts the figures beside a peer's."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import attrs

from eventlog.client import AsyncClient
from eventlog.records import NewEvent

T = TypeVar("T")


@attrs.frozen
class Figures:
    shared_rate: float
    """Appends/s with every appender on one shared client (one connection)."""
    separate_rate: float
    """Appends/s with one client, and so one connection, per appender."""
    p50_ms: float
    p99_ms: float
    batch_rate: float = 0.0
    """Events/s with every appender on the shared client appending ``batch`` events at a time
    (0 when not measured)."""


def run_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """The event loop the nodes use: uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


async def throughput(
    addresses: str,
    appenders: int,
    seconds: float,
    *,
    shared: bool,
    payload: bytes,
    batch: int = 1,
) -> float:
    """Committed events/s from ``appenders`` concurrent callers, each appending ``batch``
    events at a time and waiting for its append before the next; each appender writes its
    own stream."""
    clients = [AsyncClient(addresses, timeout=30) for _ in range(1 if shared else appenders)]
    done = 0
    deadline = time.monotonic() + seconds

    events = [NewEvent("Bench", payload)] * batch

    async def appender(n: int) -> None:
        nonlocal done
        client = clients[0 if shared else n]
        while time.monotonic() < deadline:
            await client.append(f"bench-{n}", events)
            done += batch

    try:
        warm_up = [NewEvent("Bench", payload)]
        await asyncio.gather(*(client.append("bench-warm-up", warm_up) for client in clients))
        started = time.monotonic()
        await asyncio.gather(*(appender(n) for n in range(appenders)))
        return done / (time.monotonic() - started)
    finally:
        for client in clients:
            await client.close()


async def latency(addresses: str, samples: int, payload: bytes) -> list[float]:
    """Milliseconds per append with one in flight, after one append finds the leader."""
    result = []
    async with AsyncClient(addresses, timeout=30) as client:
        await client.append("bench-latency", [NewEvent("Bench", payload)])
        for _ in range(samples):
            started = time.perf_counter()
            await client.append("bench-latency", [NewEvent("Bench", payload)])
            result.append((time.perf_counter() - started) * 1000)
    return result


def measure(
    addresses: str,
    *,
    appenders: int = 64,
    seconds: float = 10.0,
    samples: int = 2000,
    payload_bytes: int = 100,
    batch: int = 0,
) -> Figures:
    """The figures of a running cluster; with ``batch``, also events/s in appends of that
    many events."""
    payload = b"x" * payload_bytes
    shared = run_loop(throughput(addresses, appenders, seconds, shared=True, payload=payload))
    separate = run_loop(throughput(addresses, appenders, seconds, shared=False, payload=payload))
    quantiles = statistics.quantiles(run_loop(latency(addresses, samples, payload)), n=100)
    batched = (
        run_loop(
            throughput(addresses, appenders, seconds, shared=True, payload=payload, batch=batch)
        )
        if batch
        else 0.0
    )
    return Figures(shared, separate, quantiles[49], quantiles[98], batched)
