"""``eventraft verify``: check a stopped node's store, every record and the whole log."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import click

from eventlog.errors import DataDirError
from eventlog.store.verify import verify_store
from eventraft.cli.errors import fail


@click.command()
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The data directory of a stopped node (node-N under an `eventraft cluster` dir).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a line of text.")
def verify(data_dir: Path, as_json: bool) -> None:
    """Recompute every record's checksum and replay the log against the applied state; name
    the first bad record and exit 1 if there is one."""
    try:
        found = verify_store(data_dir)
    except DataDirError as error:
        fail(error)
    checked = (
        f"{found.records:,} records, {found.entries:,} entries, {found.events:,} events checked"
    )
    if as_json:
        click.echo(json.dumps({**attrs.asdict(found), "sound": found.sound}))
    elif found.sound:
        click.echo(f"{found.path}: sound ({checked})")
    else:
        click.echo(f"{found.path}: DAMAGED: {found.problem} ({checked} before it)")
    if not found.sound:
        raise SystemExit(1)
