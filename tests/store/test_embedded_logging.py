"""An application that never configured structlog hears only warnings from the embedded store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from eventlog import NewEvent, open_embedded
with open_embedded(sys.argv[1]) as store:
    store.append("s", [NewEvent("T", b"x")])
with open_embedded(sys.argv[1], sync=False) as store:
    print(store.status().last_position)
"""


def test_an_unconfigured_application_sees_warnings_only(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "1"
    assert "became_leader" not in done.stdout + done.stderr
    assert "unsafe_no_fsync" in done.stderr, "the unsafe mode stays loud"
