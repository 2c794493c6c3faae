"""The cluster demo behind ``eventraft demo``: real node processes, a small bank example,
a leader killed under load, a node recovering, and a check behind every claim."""

from __future__ import annotations

from eventraft.demo.story import run_cluster_demo

__all__ = ["run_cluster_demo"]
