"""The README is a contract: each of its Python blocks runs as written, in a fresh directory,
against a real local cluster where it names one."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventraft.localcluster import LocalCluster, local_cluster

REPO = Path(__file__).resolve().parents[1]
README_ADDRESSES = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"
BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path_factory.mktemp("readme-cluster")) as running:
        running.leader(timeout=20)
        yield running


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_a_readme_block_runs_as_written(
    block: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if README_ADDRESSES in block:
        cluster: LocalCluster = request.getfixturevalue("cluster")
        block = block.replace(README_ADDRESSES, cluster.addresses)
    completed = subprocess.run(
        [sys.executable, "-c", block],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
