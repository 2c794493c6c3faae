"""The README is a contract: followed literally, top to bottom, in a fresh directory, each of its
blocks of shell commands (```sh) and of Python (```python) runs as written and succeeds. A
command that "runs until Ctrl-C" is started in the background, waited for, and stopped with
Ctrl-C at the end, when it must exit 0. Plain blocks (```) are references with placeholders;
every ``eventraft`` command in them must still name real commands and options."""

from __future__ import annotations

import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import click
import pytest

from eventlog import Client, EventLogError, TLSConfig
from eventraft.cli import main as eventraft_main
from tests.cli.commandline import free_base_port, wait_for

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BLOCKS = [
    (lang, text) for lang, text in re.findall(r"^```(\w*)\n(.*?)^```", README, flags=re.S | re.M)
]
BACKGROUND = "# runs until Ctrl-C"
FILE_HEADER = re.compile(r"# (\w+\.py)\n")
README_ADDRESS = re.compile(r"127\.0\.0\.1:700(\d)")
DEADLINE = 60.0


def commands(block: str) -> list[str]:
    """The block's commands, a continued line (ending in a backslash) joined to the next."""
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]


@attrs.define
class Reader:
    """A user following the README in ``directory``, with the virtualenv active."""

    directory: Path
    base_port: int
    background: list[tuple[str, subprocess.Popen[str]]] = attrs.field(factory=list)
    exported: dict[str, str] = attrs.field(factory=dict)
    """What ``export NAME=VALUE`` lines set in the reader's shell, for every later command."""

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{self.base_port + n}" for n in range(3))

    def env(self) -> dict[str, str]:
        return self.exported | {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            # What the clone's root gives a user: ``examples`` is importable there.
            "PYTHONPATH": str(REPO),
            "HOME": str(self.directory),
            "LANG": "C.UTF-8",
        }

    def localise(self, text: str) -> str:
        """The README's ports, moved to free ones so that tests may run side by side."""
        text = README_ADDRESS.sub(lambda m: f"127.0.0.1:{self.base_port + int(m[1]) - 1}", text)
        return text.replace(
            "eventraft cluster ", f"eventraft cluster --base-port {self.base_port} "
        )

    def run_python(self, block: str) -> None:
        block = self.localise(block)
        if header := FILE_HEADER.match(block):
            (self.directory / header[1]).write_text(block)
            return
        self.check(subprocess.run([sys.executable, "-c", block], **self._io(timeout=120)), block)

    def run_shell(self, block: str) -> None:
        for command in commands(self.localise(block)):
            if command.startswith("export "):
                for assignment in shlex.split(command)[1:]:
                    name, _, value = assignment.partition("=")
                    self.exported[name] = value
            elif BACKGROUND in command:
                self.start(command)
            else:
                run = subprocess.run(["bash", "-o", "pipefail", "-c", command], **self._io(60))
                self.check(run, command)

    def start(self, command: str) -> None:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command.split('#')[0]}"],
            cwd=self.directory,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.background.append((command, process))
        self.wait_ready(shlex.split(command)[1], process)

    def wait_ready(self, what: str, process: subprocess.Popen[str]) -> None:
        """What a user waits for before going on: a leader; a projection caught up."""

        def ready() -> bool:
            assert process.poll() is None, f"{what} exited: {process.communicate()[1]}"
            made = self.directory / "data" / "tls"  # by `eventraft cluster`
            tls = TLSConfig.from_dir(made, "admin") if (made / "ca.pem").exists() else None
            try:
                with Client(self.addresses, timeout=2, tls=tls) as client:
                    status = client.status()
                    if what == "project":
                        return any(
                            not lease.expired and lease.lag_events == 0 for lease in status.leases
                        )
                    return status.leader != 0
            except EventLogError:
                return False

        wait_for(ready, DEADLINE, f"{what} to be ready")

    def stop_all(self) -> None:
        """Ctrl-C each background command, the last started first: each must exit 0."""
        while self.background:
            command, process = self.background.pop()
            os.killpg(process.pid, signal.SIGINT)
            _, err = process.communicate(timeout=DEADLINE)
            assert process.returncode == 0, f"{command!r} exited {process.returncode}: {err}"

    def kill_all(self) -> None:
        for _, process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        self.background.clear()

    def check(self, done: subprocess.CompletedProcess[str], what: str) -> None:
        assert done.returncode == 0, (
            f"{what}\nexited {done.returncode}:\n{done.stdout}{done.stderr}"
        )

    def _io(self, timeout: float) -> dict[str, object]:
        return {
            "cwd": self.directory,
            "env": self.env(),
            "capture_output": True,
            "text": True,
            "timeout": timeout,
        }


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[Reader]:
    following = Reader(tmp_path, free_base_port(3))
    try:
        yield following
    finally:
        following.kill_all()


def test_the_readme_has_blocks_of_each_kind() -> None:
    kinds = [lang for lang, _ in BLOCKS]
    assert kinds.count("python") >= 3 and kinds.count("sh") >= 3 and "" in kinds


def test_the_readme_followed_literally_works(reader: Reader) -> None:
    for lang, block in BLOCKS:
        if lang == "python":
            reader.run_python(block)
        elif lang == "sh":
            reader.run_shell(block)
    assert (reader.directory / "data" / "node-1").is_dir(), "the cluster kept its data in ./data"
    db = sqlite3.connect(reader.directory / "deposits.db")
    try:
        cents = sorted(row[0] for row in db.execute("SELECT cents FROM total"))
    finally:
        db.close()
    # The bank's deposit and its transfer; then the saga's: alice's 500 and the 200 it gave bob.
    assert cents == [200, 500, 2_500, 10_000], "every deposit, projected"
    reader.stop_all()


def eventraft_lines() -> Iterator[str]:
    for _, block in BLOCKS:
        for command in commands(block):
            words = command.split("#")[0].split("|")[-1].split()
            if words[:1] == ["eventraft"]:
                yield " ".join(words)


@pytest.mark.parametrize("line", sorted(set(eventraft_lines())))
def test_every_eventraft_command_in_the_readme_names_real_options(line: str) -> None:
    words = shlex.split(line)[1:]
    command: click.Command = eventraft_main
    context = click.Context(eventraft_main)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        found = command.get_command(context, words[0])
        assert found is not None, f"no command {words[0]!r}"
        command, words = found, words[1:]
    options = {name for param in command.params for name in getattr(param, "opts", [])}
    options |= {"--help", "-h", "--log-level", "--version"}
    for word in words:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{line!r}: no option {word}"
