"""The simulator and the demo as a person runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from eventlog.sim.config import SimConfig
from eventlog.sim.report import report_failure
from eventlog.sim.run import first_failure
from eventraft.cli import main as eventraft
from tests.sim import broken


def test_sweep_prints_a_summary_and_exits_zero(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "eventlog.sim",
            "--seeds",
            "12",
            "--nodes",
            "3",
            "--jobs",
            "1",
            "--failures-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "seeds with a violation" in completed.stdout
    assert "leaders elected" in completed.stdout
    assert not list(tmp_path.iterdir())


def test_a_violation_is_reported_with_seed_trace_and_replay_command(tmp_path: Path) -> None:
    config = SimConfig(nodes=3, steps=2000)
    failure = first_failure(range(300), config, broken.votes_blindly)
    assert failure is not None
    console = Console(record=True, width=200)
    path = report_failure(
        console, failure, config, "default", tmp_path, core_factory=broken.votes_blindly
    )
    text = console.export_text()
    assert f"seed {failure.seed}" in text
    assert f"--seed {failure.seed} --nodes 3" in text
    assert failure.violations[0].invariant in text
    trace = path.read_text()
    assert trace.startswith(f"     0.000 seed={failure.seed}")
    assert len(trace.splitlines()) > 100


def test_demo_tells_a_story_and_passes() -> None:
    result = CliRunner().invoke(eventraft, ["demo", "--sim", "--seeds", "4", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "elected leader of term" in result.output
    assert "crashed" in result.output
    assert "No safety violation in 4 runs" in result.output
