"""Local clusters of node processes on one machine: for ``eventraft cluster``, tests and
benchmarks. Free ports, one data dir per node, kill -9, pause, and everything cleaned up."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import attrs

from eventlog.client import Client
from eventlog.errors import EventLogError
from eventlog.protocol.answers import pack_status
from eventlog.protocol.hello import new_cluster_id
from eventlog.records import NodeStatus
from eventlog.security.tls import TLSConfig
from eventraft.certs import create_tls_dir

T = TypeVar("T")


def node_command(
    node_id: int,
    cluster_map: str,
    data_dir: Path,
    *extra: str,
    log_level: str | None = None,
    tls_dir: Path | None = None,
) -> list[str]:
    """The command line of one node process that stops when the process starting it does;
    without a ``cluster_map`` it joins (``extra`` then says ``--join`` and ``--listen``)."""
    level = ("--log-level", log_level) if log_level is not None else ()
    return [
        sys.executable,
        "-m",
        "eventraft",
        "node",
        "--id",
        str(node_id),
        *(("--cluster", cluster_map) if cluster_map else ()),
        "--data-dir",
        str(data_dir),
        "--exit-with-parent",
        *(("--tls-dir", str(tls_dir)) if tls_dir is not None else ("--insecure",)),
        *level,
        *extra,
    ]


PORTS_BELOW = 32768
"""Local clusters listen below the kernel's ephemeral range (Linux: 32768 and up), where no
outgoing connection's own port can take a port between our check and the node's bind."""
_handed: set[int] = set()
_pick = random.Random()


def free_ports(count: int) -> list[int]:
    """``count`` ports that were free just now, none handed out before by this process."""
    low = 20000
    try:
        low_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low_ephemeral = PORTS_BELOW
    high = min(low_ephemeral, PORTS_BELOW)
    ports: list[int] = []
    while len(ports) < count:
        port = _pick.randrange(low, high)
        if port in _handed:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        ports.append(port)
    return ports


def poll_until(condition: Callable[[], T | None], timeout: float) -> T | None:
    """What ``condition`` returns once it is truthy, or None when ``timeout`` passes first."""
    value, _ = _poll(condition, timeout)
    return value


def wait_for(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    value, last_error = _poll(condition, timeout)
    if value is None:
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last_error})")
    return value


def _poll(condition: Callable[[], T | None], timeout: float) -> tuple[T | None, Exception | None]:
    """Errors count as "not yet": a node may be down or electing."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value, last_error
        except Exception as error:
            last_error = error
        time.sleep(0.02)
    return None, last_error


@attrs.define
class NodeProcess:
    node_id: int
    port: int
    data_dir: Path
    cluster_map: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    extra_args: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    log_level: str | None = None
    tls_dir: Path | None = None
    """The cluster's TLS files (``eventraft certs create``'s layout); None: ``--insecure``."""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        """Start the node, logging to ``log_path``, in a process group of its own: a Ctrl-C at
        the terminal reaches only the process that started it, which decides how it stops."""
        command = node_command(
            self.node_id,
            self.cluster_map,
            self.data_dir,
            *self.extra_args,
            log_level=self.log_level,
            tls_dir=self.tls_dir,
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, process_group=0
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def terminate(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def pause(self) -> None:
        """SIGSTOP: the process stays, silent, as if its machine froze."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        # Popen.send_signal skips a process already reaped, whose pid may belong to another.
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)


@attrs.define
class LocalCluster:
    nodes: dict[int, NodeProcess]
    tls: TLSConfig | None = None
    """How a client of this cluster connects (the CA, and the ``admin`` certificate)."""

    @property
    def addresses(self) -> str:
        return ",".join(node.address for node in self.nodes.values())

    def client(self, timeout: float = 10.0) -> Client:
        return Client(self.addresses, timeout=timeout, tls=self.tls)

    def status(self, node_id: int, timeout: float = 1.0) -> NodeStatus:
        with Client([self.nodes[node_id].address], timeout=timeout, tls=self.tls) as client:
            return client.status()

    def statuses(self) -> dict[int, NodeStatus]:
        result = {}
        for node_id, node in self.nodes.items():
            if node.running:
                try:
                    result[node_id] = self.status(node_id)
                except Exception:
                    continue
        return result

    def status_rows(self) -> list[dict[str, Any]]:
        """What ``eventraft status --json`` prints for every node: its address and status, or
        its address and why it could not be asked."""
        rows: list[dict[str, Any]] = []
        for node_id, node in self.nodes.items():
            if not node.running:
                rows.append({"address": node.address, "error": "not running"})
                continue
            try:
                rows.append({"address": node.address, **pack_status(self.status(node_id))})
            except EventLogError as error:
                rows.append({"address": node.address, "error": str(error)})
        return rows

    def leader(self, timeout: float = 10.0, among: set[int] | None = None) -> int:
        def find() -> int | None:
            statuses = self.statuses()
            leaders = [
                node_id
                for node_id, s in statuses.items()
                if s.role == "leader" and (among is None or node_id in among)
            ]
            return leaders[0] if len(leaders) == 1 else None

        return wait_for(find, timeout, "a single leader")

    def wait_converged(self, timeout: float = 20.0) -> dict[int, NodeStatus]:
        """Every running node applied the same history (same position and digest)."""

        def converged() -> dict[int, NodeStatus] | None:
            statuses = self.statuses()
            running = [n for n, node in self.nodes.items() if node.running]
            if sorted(statuses) != sorted(running):
                return None
            keys = {(s.last_position, s.digest) for s in statuses.values()}
            commits = {s.commit_index for s in statuses.values()}
            applied = {s.applied_index for s in statuses.values()}
            return statuses if len(keys) == 1 and commits == applied and len(applied) == 1 else None

        return wait_for(converged, timeout, "all nodes to agree")

    def stop(self) -> None:
        for node in self.nodes.values():
            node.terminate()

    def joining(
        self, node_id: int, directory: Path, *extra: str, join: str | None = None
    ) -> NodeProcess:
        """A node to add with ``member add`` and start with ``--join`` (not started yet), at
        ``join`` or every member; it takes the cluster's other options (its id among them)."""
        [port] = free_ports(1)
        model = next(iter(self.nodes.values()))
        first = model.extra_args
        placing = {i for i, a in enumerate(first) if a in ("--join", "--listen")}
        shared = tuple(
            a for i, a in enumerate(first) if i not in placing | {p + 1 for p in placing}
        )
        node = NodeProcess(
            node_id=node_id,
            port=port,
            data_dir=directory / f"node-{node_id}",
            cluster_map="",
            log_path=directory / f"node-{node_id}.log",
            tls_dir=model.tls_dir,
            extra_args=(
                *shared,
                *("--join", join or self.addresses, "--listen", f"127.0.0.1:{port}"),
                *extra,
            ),
        )
        self.nodes[node_id] = node
        return node


@contextmanager
def local_cluster(
    tmp: Path,
    size: int = 3,
    *,
    extra_args: tuple[str, ...] = (),
    ports: list[int] | None = None,
    dial_ports: list[int] | None = None,
    cluster_id: str | None = "",
    tls: bool = False,
) -> Iterator[LocalCluster]:
    """Start ``size`` node processes; ``dial_ports`` lets each node dial peers through proxies.
    Like ``eventraft cluster``, it names the cluster with a fresh random id (``cluster_id``
    pins one; None starts the nodes unnamed, for their first leader to name). With ``tls`` it
    makes a CA in ``tmp/tls`` with certificates for nodes 1 to 20 and the client ``admin``;
    without, the nodes run ``--insecure``."""
    tmp.mkdir(parents=True, exist_ok=True)
    listen = ports or free_ports(size)
    if cluster_id == "":
        cluster_id = new_cluster_id()
    if cluster_id is not None:
        extra_args = ("--cluster-id", cluster_id, *extra_args)
    tls_dir = tmp / "tls" if tls else None
    if tls_dir is not None:
        create_tls_dir(tls_dir, range(1, 21), clients=["admin"])
    nodes = {}
    for i in range(1, size + 1):
        targets = dial_ports[(i - 1) * size : i * size] if dial_ports else listen
        cluster_map = ",".join(
            f"{j}=127.0.0.1:{listen[j - 1] if j == i else targets[j - 1]}"
            for j in range(1, size + 1)
        )
        nodes[i] = NodeProcess(
            node_id=i,
            port=listen[i - 1],
            data_dir=tmp / f"node-{i}",
            cluster_map=cluster_map,
            log_path=tmp / f"node-{i}.log",
            extra_args=extra_args,
            tls_dir=tls_dir,
        )
    client_tls = TLSConfig.from_dir(tls_dir, "admin") if tls_dir is not None else None
    cluster = LocalCluster(nodes, client_tls)
    try:
        for node in nodes.values():
            node.start()
        yield cluster
    finally:
        for node in nodes.values():
            with suppress(Exception):
                node.resume()
            node.kill()


@contextmanager
def tls_environment(tls: TLSConfig | None) -> Iterator[None]:
    """Every client made meanwhile (in this process, or started from it) connects with
    ``tls``, as in a shell after the ``export EVENTRAFT_TLS_...`` lines ``eventraft cluster``
    prints."""
    assert tls is not None and tls.cert is not None and tls.key is not None
    with environment(
        {"EVENTRAFT_TLS_CA": tls.ca, "EVENTRAFT_TLS_CERT": tls.cert, "EVENTRAFT_TLS_KEY": tls.key}
    ):
        yield


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """``variables`` set in this process's environment meanwhile, as ``export`` would."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
