"""``eventraft project`` (one worker process: of a projection, or of a process manager) and
``eventraft rebuild``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click
import structlog

from eventlog import EventLogError
from eventlog.security.tls import TLSConfig
from eventraft.cli.options import cluster_id_option
from eventraft.cli.tls_options import client_options
from projections.apply import PoisonPolicy
from projections.errors import Interrupted, PoisonEvent, ProjectionDefinitionError, ProjectionError
from projections.loading import load_projection
from projections.process import ProcessManager
from projections.progress import RichProgress
from projections.runner import run_process_manager, run_rebuild, run_worker
from projections.source import ClientSource, EmbeddedSource, EventSource
from projections.worker import WorkerConfig

F = TypeVar("F", bound=Callable[..., Any])


def _common(command: F) -> F:
    """Options shared by both commands: where events come from, which projection, where to."""
    options: list[Callable[[Any], Any]] = [
        click.option(
            "--cluster",
            "addresses",
            metavar="ADDRS",
            help="Comma-separated HOST:PORT of one or more nodes; any node will do.  "
            "[required: this or --from-embedded]",
        ),
        click.option(
            "--from-embedded",
            "embedded",
            type=click.Path(path_type=Path, file_okay=False),
            help="Read an embedded store's directory instead (no other process may have it "
            "open).  [required: this or --cluster]",
        ),
        cluster_id_option,
        click.argument("spec", metavar="MODULE:CLASS"),
        click.option(
            "--target",
            type=click.Path(path_type=Path),
            help="The read model: a SQLite file or an LMDB directory (a link to its "
            "generation).  [required: for a projection; a process manager has none]",
        ),
        click.option(
            "--on-poison",
            type=click.Choice([policy.value for policy in PoisonPolicy]),
            default=PoisonPolicy.STOP.value,
            show_default=True,
            help="An event that does not decode or whose handler raises: stop, or park it in "
            "the dead-letter table (a process manager's: the stream $dead-letters-NAME) and "
            "go on.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _source(
    addresses: str | None,
    embedded: Path | None,
    cluster_id: str | None,
    lease_timeout: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> Callable[[], EventSource]:
    if (addresses is None) == (embedded is None):
        raise click.UsageError("give exactly one of --cluster and --from-embedded")
    if embedded is not None:
        return functools.partial(EmbeddedSource.open, embedded)
    assert addresses is not None
    return functools.partial(
        ClientSource,
        addresses,
        lease_timeout=lease_timeout,
        cluster_id=cluster_id,
        tls=tls,
        credentials=credentials,
    )


def _load(spec: str) -> Any:
    try:
        return load_projection(spec)
    except ProjectionDefinitionError as error:
        raise click.BadParameter(str(error), param_hint="MODULE:CLASS") from error


@click.command()
@_common
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Events per read and per transaction.",
)
@click.option(
    "--lease-ttl",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds: a standby takes over this long after the active worker stops renewing.",
)
@click.option(
    "--owner",
    default=None,
    help="This worker's name in the lease, unique to it.  [default: HOST:PID:RANDOM]",
)
@click.option(
    "--report-every",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between progress lines (checkpoint, events/s, lag) in the log.",
)
@client_options
def project(
    addresses: str | None,
    embedded: Path | None,
    cluster_id: str | None,
    spec: str,
    target: Path | None,
    on_poison: str,
    batch_size: int,
    lease_ttl: float,
    owner: str | None,
    report_every: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> None:
    """Run one worker: a projection's catches up from the target's checkpoint, a process
    manager's from its tracking record, then follows the committed log live. A second worker
    for the same one waits as standby and takes over when the first one dies. SIGTERM or
    SIGINT: commit the batch and exit 0."""
    lease_timeout = max(0.5, lease_ttl / 3)
    open_source = _source(addresses, embedded, cluster_id, lease_timeout, tls, credentials)
    projection = _load(spec)
    reacts = isinstance(projection, ProcessManager)
    if reacts and target is not None:
        raise click.UsageError("a process manager writes to the log: it takes no --target")
    if not reacts and target is None:
        raise click.UsageError("a projection needs --target, the read model it writes")
    config = WorkerConfig(
        batch_size=batch_size,
        poison=PoisonPolicy(on_poison),
        lease_ttl=lease_ttl,
        report_every=report_every,
    )
    if owner is not None:
        config = attrs.evolve(config, owner=owner)
    try:
        if isinstance(projection, ProcessManager):
            run_process_manager(projection, open_source, config)
        else:
            assert target is not None
            run_worker(projection, open_source, target, config)
    except PoisonEvent as poison:
        structlog.get_logger(__name__).error(
            "poison_event",
            projection=poison.projection,
            position=poison.position,
            stream=poison.stream,
            type=poison.type_name,
            reason=poison.reason,
        )
        raise click.ClickException(str(poison)) from poison
    except (ProjectionError, EventLogError) as error:
        raise click.ClickException(str(error)) from error


@click.command()
@_common
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Events per read and per transaction.",
)
@client_options
def rebuild(
    addresses: str | None,
    embedded: Path | None,
    cluster_id: str | None,
    spec: str,
    target: Path | None,
    on_poison: str,
    batch_size: int,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> None:
    """Replay the log from position 1 into a fresh generation of the target while the
    current one keeps serving, then switch to it atomically (a running worker follows)."""
    open_source = _source(addresses, embedded, cluster_id, 5.0, tls, credentials)
    projection = _load(spec)
    if isinstance(projection, ProcessManager):
        raise click.UsageError("a process manager's reactions are in the log: nothing to rebuild")
    if target is None:
        raise click.UsageError("rebuild needs --target, the read model to rebuild")
    try:
        with RichProgress(projection.name) as progress:
            result = run_rebuild(
                projection,
                open_source,
                target,
                batch_size=batch_size,
                poison=PoisonPolicy(on_poison),
                progress=progress,
            )
    except Interrupted as interrupted:
        raise click.ClickException(f"{interrupted}; the target is unchanged") from None
    except (ProjectionError, EventLogError) as error:
        raise click.ClickException(f"{error}; the target is unchanged") from error
    parked = f", {result.parked} parked" if result.parked else ""
    click.echo(
        f"rebuilt {projection.name} to position {result.checkpoint} in {result.seconds:.1f}s "
        f"({result.rate:,.0f} events/s{parked}) -> {result.generation}"
    )
