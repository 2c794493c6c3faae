"""Running nodes: ``eventraft node`` (one node) and ``eventraft cluster`` (a local cluster)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import structlog

from eventlog.errors import EventLogError, InvalidRequest
from eventlog.logs import bind_node
from eventlog.node.node import NodeConfig
from eventlog.protocol.addresses import parse_addresses, split_address
from eventlog.protocol.hello import new_cluster_id
from eventlog.protocol.requests import DEFAULT_MAX_APPEND_BYTES
from eventlog.store.storage import LmdbStorage
from eventlog.types import NodeId
from eventraft.certs import local_cluster_tls
from eventraft.cli.errors import fail, os_error_message
from eventraft.cli.options import cluster_id_option, log_level, quota_option
from eventraft.cli.tls_options import admin_password_hash, node_tls, node_tls_options
from eventraft.join import CatchUp, join
from eventraft.localcluster import NodeProcess
from eventraft.supervisor import Supervisor, listen_problem


@click.command()
@click.option(
    "--id",
    "node_id",
    type=click.IntRange(min=1),
    required=True,
    help="This node's id in --cluster (or the id it was added with, with --join).",
)
@click.option(
    "--cluster",
    "cluster_map",
    metavar="ID=HOST:PORT,...",
    help="Bootstrap a new cluster: every node's id and address; this node listens on its own "
    "entry, dials the others. Once a store exists, its configuration comes from its log.  "
    "[required: this or --join]",
)
@click.option(
    "--join",
    "join_addresses",
    metavar="HOST:PORT,...",
    help="Join a running cluster that added this node with `eventraft member add`: the "
    "addresses of some of its members.  [required: this or --cluster]",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Where this node listens: the address it was added with.  [required: with --join]",
)
@click.option(
    "--catch-up",
    type=click.Choice([mode.value for mode in CatchUp]),
    default=CatchUp.COPY.value,
    show_default=True,
    help="With --join: take a copy of the leader's store (copy), or receive the log entry by "
    "entry (entries: every event applied again, slower).",
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The directory of this node's LMDB environment; created if missing.",
)
@cluster_id_option
@click.option(
    "--tick-ms",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Milliseconds between Raft ticks; election timeouts and heartbeats count in ticks.",
)
@click.option(
    "--unsafe-no-fsync",
    is_flag=True,
    help="UNSAFE, for tests and benchmarks only: acknowledge without fsync.",
)
@click.option(
    "--max-append-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_APPEND_BYTES,
    show_default=True,
    help="Bytes of the largest append this node takes (events' data and metadata, plus 32 "
    "per event); give every node of a cluster the same.",
)
@quota_option
@node_tls_options
@click.option(
    "--exit-with-parent",
    is_flag=True,
    help="Stop when the process that started this node is gone (local clusters use it, so a "
    "killed test run or demo leaves no node behind).",
)
def node(
    node_id: int,
    cluster_map: str | None,
    join_addresses: str | None,
    listen: str | None,
    catch_up: str,
    data_dir: Path,
    cluster_id: str | None,
    tick_ms: float,
    unsafe_no_fsync: bool,
    max_append_bytes: int,
    quota_bytes: int | None,
    tls_dir: Path | None,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    insecure: bool,
    admin_password_file: Path | None,
    exit_with_parent: bool,
) -> None:
    """Run one node of a cluster until SIGTERM or SIGINT (then exit 0)."""
    from eventlog.node.process import run

    addresses = _addresses_of(node_id, cluster_map, join_addresses, listen)
    tls = node_tls(node_id, tls_dir, tls_ca, tls_cert, tls_key, insecure)
    bind_node(node_id)
    if tls is None:
        host, port = addresses[node_id]
        structlog.get_logger(__name__).warning(
            "insecure_node",
            message=f"TLS is OFF: anyone who reaches {host}:{port} reads and writes everything "
            "(no one signs in)",
        )
    config = NodeConfig(
        node_id=NodeId(node_id),
        cluster_id=cluster_id,
        addresses={NodeId(k): v for k, v in addresses.items()},
        data_dir=str(data_dir),
        tick_ms=tick_ms,
        sync=not unsafe_no_fsync,
        max_append_bytes=max_append_bytes,
        quota_bytes=quota_bytes,
        tls=tls,
        admin_password_hash=admin_password_hash(admin_password_file),
    )
    try:
        if join_addresses is not None:
            cluster = parse_addresses(join_addresses)
            asyncio.run(join(config, cluster, CatchUp(catch_up)))
        run(config, exit_with_parent=exit_with_parent)
    except EventLogError as error:
        fail(error)
    except OSError as error:
        host, port = addresses[node_id]
        fail(os_error_message(error, address=f"{host}:{port}"))


@click.command()
@click.option(
    "--nodes",
    type=click.IntRange(1, 9),
    default=3,
    show_default=True,
    help="How many node processes to run.",
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Node N keeps its LMDB environment in DATA_DIR/node-N and logs to "
    "DATA_DIR/node-N.log; created if missing.",
)
@click.option(
    "--base-port",
    type=click.IntRange(1, 65535),
    default=7001,
    show_default=True,
    help="Node 1's TCP port; node N listens on BASE_PORT+N-1.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address every node listens on, and is dialled at by the others and by clients.",
)
@cluster_id_option
@quota_option
@click.option(
    "--insecure",
    is_flag=True,
    help="Run the nodes without TLS.  [default: TLS, with a CA and certificates made in "
    "DATA_DIR/tls the first time]",
)
def cluster(
    nodes: int,
    data_dir: Path,
    base_port: int,
    host: str,
    cluster_id: str | None,
    quota_bytes: int | None,
    insecure: bool,
) -> None:
    """Run a local cluster of NODES node processes until Ctrl-C or SIGTERM, which stop them all.

    Node N logs to DATA_DIR/node-N.log. A node that exits on its own is reported (its exit
    code or signal and the last lines of its log) while the others keep running; the command
    then exits 1 once stopped, instead of 0."""
    if base_port + nodes - 1 > 65535:
        raise click.BadParameter(
            f"node {nodes} would listen past port 65535", param_hint="--base-port"
        )
    if cluster_id is None:  # every node gets the same: the stored one, or a fresh one
        cluster_id = _stored_cluster_id(data_dir, nodes) or new_cluster_id()
    quota = ("--quota-bytes", str(quota_bytes)) if quota_bytes is not None else ()
    processes = _node_processes(nodes, data_dir, base_port, host, cluster_id, quota)
    _check_can_start(data_dir, processes)
    connect = ""
    if not insecure:
        tls = local_cluster_tls(data_dir / "tls", nodes, host)
        for process in processes:
            process.tls_dir = tls
        connect = (
            f"; over TLS: export EVENTRAFT_TLS_CA={tls}/ca.pem EVENTRAFT_TLS_CERT={tls}/admin.pem "
            f"EVENTRAFT_TLS_KEY={tls}/admin.key"
        )
    supervisor = Supervisor(processes, report=lambda text: click.echo(text, err=True))
    addresses = ",".join(process.address for process in processes)
    click.echo(
        f"cluster of {nodes} starting; clients: --cluster {addresses}{connect}; node N logs "
        f"to {data_dir}/node-N.log; Ctrl-C stops every node",
        err=True,
    )
    with _signals_to(supervisor):
        code = supervisor.run()
    click.echo("every node stopped" + ("; a node failed" if code else ""), err=True)
    click.get_current_context().exit(code)


def _addresses_of(
    node_id: int, cluster_map: str | None, join_addresses: str | None, listen: str | None
) -> dict[int, tuple[str, int]]:
    """Where this node listens, and (bootstrapping) where the others do."""
    from eventlog.node.process import parse_cluster_map

    if (cluster_map is None) == (join_addresses is None):
        raise click.UsageError("give either --cluster (a new cluster) or --join (a running one)")
    if join_addresses is not None:
        if listen is None:
            raise click.BadParameter("--join needs --listen HOST:PORT", param_hint="--listen")
        try:
            parse_addresses(join_addresses)
            return {node_id: split_address(listen)}
        except InvalidRequest as error:
            raise click.BadParameter(str(error), param_hint="--join/--listen") from error
    assert cluster_map is not None
    try:
        addresses = parse_cluster_map(cluster_map)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--cluster") from error
    if node_id not in addresses:
        raise click.BadParameter(f"node {node_id} is not in the cluster map", param_hint="--id")
    return addresses


def _stored_cluster_id(data_dir: Path, nodes: int) -> str | None:
    """The id a node directory of ``data_dir`` already holds, if any does."""
    for i in range(1, nodes + 1):
        directory = data_dir / f"node-{i}"
        if not (directory / "data.mdb").is_file():
            continue
        try:
            storage = LmdbStorage.open_readonly(directory)
        except EventLogError:
            continue
        try:
            if storage.cluster_id:
                return storage.cluster_id
        finally:
            storage.close()
    return None


def _node_processes(
    nodes: int,
    data_dir: Path,
    base_port: int,
    host: str,
    cluster_id: str | None,
    extra_args: tuple[str, ...] = (),
) -> list[NodeProcess]:
    cluster_map = ",".join(f"{i}={host}:{base_port + i - 1}" for i in range(1, nodes + 1))
    return [
        NodeProcess(
            node_id=i,
            port=base_port + i - 1,
            data_dir=data_dir / f"node-{i}",
            cluster_map=cluster_map,
            log_path=data_dir / f"node-{i}.log",
            extra_args=(
                *(("--cluster-id", cluster_id) if cluster_id is not None else ()),
                *extra_args,
            ),
            host=host,
            log_level=log_level(),
        )
        for i in range(1, nodes + 1)
    ]


def _check_can_start(data_dir: Path, processes: list[NodeProcess]) -> None:
    """What would make a node fail at once, said before any starts, in one line."""
    for path in (data_dir, *(process.data_dir for process in processes)):
        if path.exists() and not path.is_dir():
            fail(f"data dir {str(path)!r}: exists and is not a directory")
    for process in processes:
        problem = listen_problem(process.host, process.port)
        if problem is not None:
            fail(f"node {process.node_id} cannot start: {problem}; choose another --base-port")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"data dir {str(data_dir)!r}: {error.strerror or error}")


@contextmanager
def _signals_to(supervisor: Supervisor) -> Iterator[None]:
    """SIGINT and SIGTERM ask the supervisor to stop every node, then the handlers before."""
    previous = {
        signum: signal.signal(signum, supervisor.request_stop)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
