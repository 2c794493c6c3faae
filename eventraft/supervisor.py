"""``eventraft cluster``'s watch over its node processes.

A node that exits on its own is reported (which one, its exit code or signal, the last lines of
its log) and the others keep running, so a person sees a failure where a supervisor would, and
can look at the cluster in that state; SIGINT or SIGTERM stops every node. The exit code says
whether any node failed.
"""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from eventraft.localcluster import NodeProcess

LOG_TAIL_LINES = 10
STOP_SECONDS = 15.0
"""How long a node may take to stop after SIGTERM before it is killed."""
WATCH_SECONDS = 0.2
"""How often the nodes are looked at: a person reads the report, nothing waits on it."""


def exit_reason(returncode: int) -> str:
    """``-9`` reads "killed by SIGKILL", ``1`` reads "exit code 1"."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def listen_problem(host: str, port: int) -> str | None:
    """Why a node could not listen on ``host:port`` now, or None if it could."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the node's server does
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"{host}:{port} is in use (by another node or program)"
            return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return None


@attrs.define
class Supervisor:
    """Starts ``nodes``, reports each one that exits unasked through ``report``, and stops
    them all when asked (``request_stop``) or when none is left."""

    nodes: list[NodeProcess]
    report: Callable[[str], None]
    failed: bool = False
    _stopping: bool = False
    _gone: set[int] = attrs.field(factory=set)

    def request_stop(self, *_: object) -> None:
        """A signal handler: it only marks the request, the watch loop acts on it."""
        self._stopping = True

    def run(self) -> int:
        """Start the nodes and watch them until asked to stop or none is left; stop them all;
        the exit code: 1 if a node exited unasked or did not stop cleanly, else 0."""
        try:
            for node in self.nodes:
                node.start()
            while not self._stopping and self._watch():
                time.sleep(WATCH_SECONDS)
        finally:
            self._stop_all()
        return 1 if self.failed else 0

    def _watch(self) -> bool:
        """Report the nodes gone since the last look; False once none is running."""
        for node in self.nodes:
            if node.node_id not in self._gone and not node.running:
                self._gone.add(node.node_id)
                self.failed = True
                self._tell_exit(node)
        return any(node.running for node in self.nodes)

    def _tell_exit(self, node: NodeProcess) -> None:
        code = node.process.returncode if node.process is not None else None
        reason = "did not start" if code is None else exit_reason(code)
        running = sum(1 for other in self.nodes if other.running)
        tail = log_tail(node.log_path)
        lines = [
            f"node {node.node_id} ({node.address}) exited: {reason}; "
            f"{running} of {len(self.nodes)} nodes still running",
            *(
                [f"last lines of {node.log_path}:", *(f"  {line}" for line in tail)]
                if tail
                else [f"{node.log_path} is empty"]
            ),
        ]
        self.report("\n".join(lines))

    def _stop_all(self) -> None:
        """SIGTERM to every node at once, once (a second one would end a node's clean stop
        early), then wait for each; one that takes too long is killed."""
        running = [node for node in self.nodes if node.running]
        for node in running:
            assert node.process is not None
            node.process.send_signal(signal.SIGTERM)
        for node in running:
            code = _wait_or_kill(node)
            if code != 0:
                self.failed = True
                self.report(
                    f"node {node.node_id} did not stop cleanly: {exit_reason(code)}; "
                    f"see {node.log_path}"
                )


def _wait_or_kill(node: NodeProcess) -> int:
    assert node.process is not None
    try:
        return node.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        node.process.kill()
        return node.process.wait()
