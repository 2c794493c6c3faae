"""Running ``eventraft`` as a shell would, and cleaning up after it.

Every process a test starts is stopped by the end of its ``with`` block, and every process
whose command line names the test's directory is killed, even when the test fails."""

from __future__ import annotations

import os
import pty
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from eventraft.localcluster import free_ports, wait_for

__all__ = [
    "LOG_LINE",
    "eventraft",
    "free_base_port",
    "on_a_terminal",
    "one_line_error",
    "processes_mentioning",
    "running",
    "silent_server",
    "wait_for",
]

DEADLINE = 30.0
"""Seconds a state may take to come about before a test fails (a bound, never a timing)."""
LOG_LINE = "{"
"""Log lines on standard error are JSON objects when it is not a terminal."""


def eventraft(
    *args: str | bytes, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``eventraft ARGS`` in a fresh interpreter; ``bytes`` arguments reach it as such."""
    completed = subprocess.run(
        [sys.executable, "-m", "eventraft", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    return subprocess.CompletedProcess(
        completed.args,
        completed.returncode,
        completed.stdout.decode(errors="replace"),
        completed.stderr.decode(errors="replace"),
    )


_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(*args: str, columns: int) -> str:
    """What ``eventraft ARGS`` shows on a terminal ``columns`` wide (a pseudo-terminal), its
    styles taken out."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "eventraft", *args],
            stdout=terminal,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"},
        )
        os.close(terminal)
        terminal = -1
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every writer has gone
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=DEADLINE)
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)
    text = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    return _ESCAPES.sub("", text)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one line, besides log lines, that a failed command printed: its error."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith(LOG_LINE)]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # it exited while we looked
        if text in command and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def free_base_port(count: int) -> int:
    """A port P such that P..P+count-1 are free now, for ``eventraft cluster --base-port``."""

    def consecutive() -> int | None:
        [base] = free_ports(1)
        ports = range(base, base + count)
        return base if ports[-1] <= 65535 and all(map(_bindable, ports)) else None

    return wait_for(consecutive, DEADLINE, f"{count} consecutive free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def running(args: Sequence[str], log: Path, tmp: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``eventraft ARGS`` in the background, standard error to ``log``; killed at the end with
    every process that names ``tmp``."""
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "eventraft", *args],
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        for pid in processes_mentioning(str(tmp)):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextmanager
def silent_server() -> Iterator[socket.socket]:
    """A port that accepts connections and never answers: a call to it waits until its
    deadline, so a test can interrupt a command while it waits."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(DEADLINE)
    try:
        yield server
    finally:
        server.close()
