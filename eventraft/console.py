"""The rich console the commands print to."""

from __future__ import annotations

from rich.console import Console

PIPED_WIDTH = 120
"""Columns when standard output is a file or a pipe: rich would assume 80 and cut tables."""


def output_console() -> Console:
    """A console on standard output; wider than rich's 80 columns when nobody's terminal
    limits it, so tables written to a file or read by a program stay whole."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, PIPED_WIDTH)
    return console
