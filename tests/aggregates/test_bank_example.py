"""The runnable example runs: ``python -m examples.bank``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bank_example_runs_and_refuses_an_overdraft() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "examples.bank"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "opened two accounts, positions 1..3"
    assert lines[1].startswith("refused: account") and "cannot withdraw 9999" in lines[1]
    assert lines[2:] == ["alice: 75.00 EUR", "bob: 25.00 EUR"]
