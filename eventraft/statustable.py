"""Node status for a person: one table row per node, and one line saying whether they agree.

Shared by ``eventraft status`` and the demo, so both read the same way. A row is what
``eventraft status --json`` prints for an address: the node's status fields, or an ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from rich import box
from rich.console import Console, ConsoleOptions, Group, JustifyMethod, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

DIGEST_CHARS = 10
"""Enough of a digest to tell two histories apart at a glance; ``--json`` has all of it."""

_ROLE_STYLES = {"leader": "bold green", "candidate": "yellow", "pre_candidate": "yellow"}
_COLUMNS = (
    # (header, status field), most telling first: a console too narrow for the table drops
    # the columns on the right, so who leads and whether histories agree come before indexes.
    ("node", "id"),
    ("role", "role"),
    ("term", "term"),
    ("leader", "leader"),
    ("position", "last_position"),
    ("digest", "digest"),
    ("commit", "commit_index"),
    ("applied", "applied_index"),
    ("last", "last_index"),
)
_TEXT = ("role", "digest")
_UNBOUNDED = 10_000
"""A width no table reaches, to measure the width a table wants."""

Row = Mapping[str, Any]


def status_table(rows: Sequence[Row], title: str | None = None) -> RenderableType:
    """One row per node, then why each unreachable one could not be asked: an error is too
    long for a table cell, so its row says "unreachable" and the reason follows the table."""
    errors = [
        Text.assemble((f"{row['address']}: ", "bold"), (str(row["error"]), "red"))
        for row in rows
        if "error" in row
    ]
    table = _FittedTable(rows=tuple(rows), title=title)
    return Group(table, *errors) if errors else table


@attrs.frozen
class _FittedTable:
    """The table with as many columns as the console's width holds whole, counted from the
    left: rich would otherwise shorten every column, cutting addresses and roles."""

    rows: tuple[Row, ...]
    title: str | None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update_width(_UNBOUNDED)
        shown = len(_COLUMNS)
        table = self._table(shown)
        while shown > 2 and Measurement.get(console, unbounded, table).maximum > options.max_width:
            shown -= 1
            table = self._table(shown)
        yield table

    def _table(self, shown: int) -> Table:
        columns = _COLUMNS[:shown]
        hidden = [header for header, _ in _COLUMNS[shown:]]
        caption = agreement(self.rows)
        if hidden:
            caption += f" · [dim]too narrow to show {', '.join(hidden)} (see --json)[/dim]"
        table = Table(
            title=self.title,
            box=box.SIMPLE_HEAD,
            caption=caption,
            caption_justify="left",
            collapse_padding=True,
            pad_edge=False,
        )
        table.add_column("address", no_wrap=True)
        for header, _ in columns:
            justify: JustifyMethod = "left" if header in _TEXT else "right"
            table.add_column(header, justify=justify, no_wrap=True, min_width=len(header))
        for row in self.rows:
            table.add_row(*_cells(row)[: shown + 1])
        return table


def _cells(row: Row) -> list[str]:
    if "error" in row:
        return [row["address"], "", "[red]unreachable[/red]"]
    cells = {header: str(row[field]) for header, field in _COLUMNS}
    style = _ROLE_STYLES.get(cells["role"])
    if style:
        cells["role"] = f"[{style}]{cells['role']}[/{style}]"
    if row["leader"] == 0:
        cells["leader"] = "none"
    cells["digest"] = cells["digest"][:DIGEST_CHARS]
    return [str(row.get("address", "")), *cells.values()]


def agreement(rows: Sequence[Row]) -> str:
    """Reachable count, the leader, and whether the histories agree, in one line."""
    up = [row for row in rows if "error" not in row]
    parts = [f"{len(up)} of {len(rows)} reachable"]
    leaders = sorted({(row["term"], row["id"]) for row in up if row["role"] == "leader"})
    if leaders:
        term, node = leaders[-1]
        parts.append(f"leader: node {node} (term {term})")
    elif up:
        parts.append(_reported_leader(up))
    parts.extend(_histories(up))
    return " · ".join(parts)


def _reported_leader(up: Sequence[Row]) -> str:
    """No leader answered: the one the nodes asked know of, from the latest term, if any."""
    reports = sorted((row["term"], row["leader"], row["id"]) for row in up if row["leader"])
    if not reports:
        return "[yellow]no leader[/yellow]"
    term, leader, _ = reports[-1]
    reporters = [str(r[2]) for r in reports if r[:2] == (term, leader)]
    who = "node {} reports" if len(reporters) == 1 else "nodes {} report"
    return f"leader: node {leader} (term {term}, as {who.format(', '.join(reporters))})"


def _histories(up: Sequence[Row]) -> list[str]:
    """Two nodes at the same position agree exactly when their digests are equal."""
    positions = {row["last_position"] for row in up}
    digests = {row["digest"] for row in up}
    if len(up) < 2:
        return [f"position {row['last_position']}" for row in up]
    if len(positions) > 1:
        return [f"positions {min(positions)}..{max(positions)}: some nodes are catching up"]
    position = positions.pop()
    if len(digests) == 1:
        return [f"[green]all {len(up)} histories agree at position {position}[/green]"]
    return [f"[red]histories differ at position {position}[/red]"]


def projections_table(rows: Sequence[Row]) -> RenderableType | None:
    """The leases (projection workers) as the most advanced reachable node knows them, or None
    if there are none."""
    up = [row for row in rows if "error" not in row and row.get("leases")]
    if not up:
        return None
    best = max(up, key=lambda row: (row["applied_index"], row["role"] == "leader"))
    table = Table(title="projections", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("name", "owner", "token", "checkpoint", "lag (events)", "lag (s)", "lease"):
        table.add_column(header, justify="left" if header in ("name", "owner") else "right")
    for lease in best["leases"]:
        state = "[green]held[/green]"
        if lease.get("stopped"):
            state = "stopped"
        elif lease["expired"]:
            state = "[yellow]expired[/yellow]"
        table.add_row(
            lease["name"],
            lease["owner"],
            str(lease["token"]),
            str(lease["checkpoint"]),
            str(lease["lag_events"]),
            f"{lease['lag_seconds']:.1f}",
            state,
        )
    return table
