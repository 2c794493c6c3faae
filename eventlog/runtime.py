"""Running one node as a process: the node, its server, signals, and a clean stop."""

from __future__ import annotations

import asyncio
import signal

from eventlog.node import Node, NodeConfig
from eventlog.server import Server


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


async def serve(config: NodeConfig) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting, finish the Ready loop and close."""
    node = Node(config)
    server = Server(node)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        await node.start()
        await stop.wait()
        node.log.info("stopping")
    finally:
        await server.close()
        await node.stop()


def run(config: NodeConfig) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(config))
    else:
        uvloop.run(serve(config))
