"""Real node processes on 127.0.0.1 for tests (the process handling lives in the package)."""

from __future__ import annotations

import json
from typing import Any

from eventraft.localcluster import (
    LocalCluster,
    NodeProcess,
    free_ports,
    local_cluster,
    wait_for,
)

__all__ = ["LocalCluster", "NodeProcess", "dump_logs", "free_ports", "local_cluster", "wait_for"]


def dump_logs(cluster: LocalCluster, lines: int = 40) -> str:
    out = []
    for node in cluster.nodes.values():
        if node.log_path.exists():
            tail = node.log_path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- node {node.node_id} ---\n" + "\n".join(tail))
    return "\n".join(out)


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
