"""Running nodes: ``eventraft node`` (one node) and ``eventraft cluster`` (a local cluster)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import click

from eventlog.errors import EventLogError
from eventlog.logs import bind_node
from eventlog.node.node import NodeConfig
from eventlog.types import NodeId
from eventraft.cli.options import cluster_id_option
from eventraft.localcluster import node_command


@click.command()
@click.option("--id", "node_id", type=click.IntRange(min=1), required=True, help="This node's id.")
@click.option(
    "--cluster",
    "cluster_map",
    required=True,
    metavar="ID=HOST:PORT,...",
    help="Every node's id and address; this node listens on its own entry, dials the others.",
)
@click.option("--data-dir", required=True, type=click.Path(path_type=Path), help="LMDB data.")
@cluster_id_option
@click.option("--tick-ms", default=10.0, show_default=True, help="Raft tick interval.")
@click.option(
    "--unsafe-no-fsync",
    is_flag=True,
    help="UNSAFE, for tests and benchmarks only: acknowledge without fsync.",
)
@click.option(
    "--exit-with-parent",
    is_flag=True,
    help="Stop when the process that started this node is gone (local clusters use it, so a "
    "killed test run or demo leaves no node behind).",
)
def node(
    node_id: int,
    cluster_map: str,
    data_dir: Path,
    cluster_id: str,
    tick_ms: float,
    unsafe_no_fsync: bool,
    exit_with_parent: bool,
) -> None:
    """Run one node of a cluster until SIGTERM or SIGINT."""
    from eventlog.node.process import parse_cluster_map, run

    try:
        addresses = parse_cluster_map(cluster_map)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--cluster") from error
    if node_id not in addresses:
        raise click.BadParameter(f"node {node_id} is not in the cluster map", param_hint="--id")
    bind_node(node_id)
    config = NodeConfig(
        node_id=NodeId(node_id),
        cluster_id=cluster_id,
        addresses={NodeId(k): v for k, v in addresses.items()},
        data_dir=str(data_dir),
        tick_ms=tick_ms,
        sync=not unsafe_no_fsync,
    )
    try:
        run(config, exit_with_parent=exit_with_parent)
    except EventLogError as error:
        raise click.ClickException(str(error)) from error


@click.command()
@click.option("--nodes", type=click.IntRange(1, 9), default=3, show_default=True)
@click.option("--data-dir", required=True, type=click.Path(path_type=Path))
@click.option("--base-port", default=7001, show_default=True, help="Node N listens on P+N-1.")
@click.option("--host", default="127.0.0.1", show_default=True)
@cluster_id_option
def cluster(nodes: int, data_dir: Path, base_port: int, host: str, cluster_id: str) -> None:
    """Run a local cluster of node processes until interrupted."""
    cluster_map = ",".join(f"{i}={host}:{base_port + i - 1}" for i in range(1, nodes + 1))
    children = []
    for i in range(1, nodes + 1):
        command = node_command(i, cluster_map, data_dir / f"node-{i}", "--cluster-id", cluster_id)
        children.append(subprocess.Popen(command))
    addresses = ",".join(f"{host}:{base_port + i - 1}" for i in range(1, nodes + 1))
    click.echo(f"cluster of {nodes} running; clients: --cluster {addresses}", err=True)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
