"""Distinct integer types, so that mypy catches a term passed where an index belongs."""

from __future__ import annotations

from typing import NewType

__all__ = [
    "NO_NODE",
    "LogIndex",
    "NodeId",
    "Position",
    "Term",
]

NodeId = NewType("NodeId", int)
Term = NewType("Term", int)
LogIndex = NewType("LogIndex", int)
Position = NewType("Position", int)

NO_NODE = NodeId(0)
"""Node ids start at 1; 0 stands for "nobody" (no vote, no known leader)."""
