"""``eventraft certs create``: a development CA with certificates for nodes and clients."""

from __future__ import annotations

from pathlib import Path

import click

from eventraft.certs import DEFAULT_HOSTS, create_tls_dir

__all__ = [
    "certs",
]


@click.group()
def certs() -> None:
    """Certificates for development (production brings its own CA)."""


@certs.command("create")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The directory for ca.pem, ca.key, node-ID.pem/.key and NAME.pem/.key; a CA "
    "already there is reused.",
)
@click.option(
    "--nodes",
    required=True,
    metavar="ID,...",
    help="The node ids to make certificates for, comma-separated.",
)
@click.option(
    "--hosts",
    default=",".join(DEFAULT_HOSTS),
    show_default=True,
    metavar="HOST,...",
    help="Names and IP addresses the nodes' certificates are valid for.",
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="NAME",
    help="A client certificate for user NAME (repeat for more; `admin` for the first "
    "admin).  [default: none]",
)
def create(out: Path, nodes: str, hosts: str, clients: tuple[str, ...]) -> None:
    """Make a CA (or reuse the one in --out) and sign a certificate for each node and
    client; keys are written readable by their owner only."""
    try:
        ids = sorted({int(item) for item in nodes.split(",") if item.strip()})
    except ValueError:
        raise click.BadParameter(
            f"{nodes!r} is not a list of node ids", param_hint="--nodes"
        ) from None
    if not ids or min(ids) < 1:
        raise click.BadParameter("node ids are integers >= 1", param_hint="--nodes")
    for name in clients:
        if not name or name.startswith("node-") or "/" in name or name in ("ca",):
            raise click.BadParameter(f"{name!r} cannot name a client", param_hint="--client")
    names = [host.strip() for host in hosts.split(",") if host.strip()]
    written = create_tls_dir(out, ids, hosts=names, clients=clients)
    for path in written:
        click.echo(str(path))
