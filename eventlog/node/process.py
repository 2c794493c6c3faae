"""Running one node as a process: the node, its server, signals, and a clean stop."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import signal

from eventlog.errors import ConfigError
from eventlog.node.node import Node, NodeConfig
from eventlog.node.server import Server

__all__ = [
    "PARENT_POLL_SECONDS",
    "parse_cluster_map",
    "run",
    "serve",
    "serve_node",
    "settle_heap",
]


def parse_cluster_map(text: str) -> dict[int, tuple[str, int]]:
    """``1=HOST:PORT,...`` into ``{1: (HOST, PORT), ...}``; ValueError names the bad item."""
    result: dict[int, tuple[str, int]] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        node, sep, address = item.partition("=")
        host, _, port = address.rpartition(":")
        if not sep or not node.isdigit() or int(node) < 1 or not host or not port.isdigit():
            raise ValueError(f"bad cluster entry {item!r}: expected ID=HOST:PORT with ID >= 1")
        if int(node) in result:
            raise ValueError(f"node {node} appears twice in the cluster map")
        result[int(node)] = (host, int(port))
    if not result:
        raise ValueError("the cluster map is empty")
    return result


PARENT_POLL_SECONDS = 0.5
GC_THRESHOLDS = (50_000, 20, 10)


async def serve(config: NodeConfig, *, exit_with_parent: bool = False) -> None:
    """Serve until SIGTERM or SIGINT (or, with ``exit_with_parent``, until the process that
    started this one is gone), then stop accepting, finish the Ready loop and close."""
    await serve_node(Node(config), exit_with_parent=exit_with_parent)


async def serve_node(node: Node, *, exit_with_parent: bool = False) -> None:
    """Serve ``node`` until told to stop, or until it fails: then raise its ``NodeFailed``
    once it is closed, so the process exits non-zero and a supervisor restarts it."""
    server = Server(node)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, functools.partial(_reload_tls, server))
    watcher = asyncio.create_task(_watch_parent(stop, node)) if exit_with_parent else None
    ends = {asyncio.create_task(node.health.failed.wait()), asyncio.create_task(stop.wait())}
    try:
        await server.start()
        await node.start()
        settle_heap()
        await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        node.logger.info("stopping")
    finally:
        for task in [*ends, *([watcher] if watcher is not None else [])]:
            task.cancel()
        await server.close()
        await node.stop()
    if node.health.failure is not None:
        raise node.health.failure


def _reload_tls(server: Server) -> None:
    """SIGHUP: load the TLS files again, so certificates are rotated without a restart."""
    try:
        server.reload_tls()
    except ConfigError as error:
        server.logger.error("tls_reload_failed", reason=str(error))


def settle_heap() -> None:
    """What starting allocated (modules, classes, the node itself) lives as long as the
    process: take it out of the cyclic collector's sight (``gc.freeze``). A full collection
    under load then scans only what requests allocate, a few milliseconds, where it scanned
    every object of the process and held the loop past an election timeout."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _watch_parent(stop: asyncio.Event, node: Node) -> None:
    """A parent killed with SIGKILL cannot stop its children; they notice they were handed to
    another parent (init or a subreaper) and stop themselves."""
    parent = os.getppid()
    while not stop.is_set():
        await asyncio.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            node.logger.warning("parent_exited", parent=parent)
            stop.set()


def run(config: NodeConfig, *, exit_with_parent: bool = False) -> None:
    main = serve(config, exit_with_parent=exit_with_parent)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
