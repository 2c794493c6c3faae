"""``eventraft member list|add|promote|remove``: who is in the cluster, and changing it while
it serves, one server at a time.

Every change goes to the leader, waits until it commits and prints the configuration it
made; or it fails with one line naming why (a change already in flight, a learner too far
behind, an unknown id, a majority that would no longer answer, no leader reachable)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
import click
from rich.table import Table

from eventlog.client.async_client import AsyncClient
from eventlog.errors import EventLogError
from eventlog.protocol.addresses import split_address
from eventlog.records import Configuration, MemberStatus
from eventlog.security.tls import TLSConfig
from eventraft.cli.calls import json_option, run_call
from eventraft.cli.options import cluster_id_option, cluster_option, timeout_option
from eventraft.cli.tls_options import client_options
from eventraft.console import output_console

__all__ = [
    "member",
]

T = TypeVar("T")


def _show(configuration: Configuration, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(attrs.asdict(configuration), sort_keys=True))
        return
    table = Table(title="eventraft cluster configuration")
    for column in ("id", "address", "role"):
        table.add_column(column)
    for node in sorted((*configuration.voters, *configuration.learners)):
        role = "voter" if node in configuration.voters else "learner"
        table.add_row(str(node), configuration.addresses.get(node, ""), role)
    output_console().print(table)


def _members_table(members: list[MemberStatus]) -> Table:
    table = Table(title="eventraft members")
    for column, justify in (
        ("id", "right"),
        ("address", "left"),
        ("role", "left"),
        ("match index", "right"),
        ("lag", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for m in members:
        table.add_row(str(m.id), m.address, m.role, str(m.match_index), str(m.lag))
    return table


def _id_option(f: Any) -> Any:
    return click.option(
        "--id",
        "node_id",
        type=click.IntRange(min=1),
        required=True,
        help="The id of the node to change.",
    )(f)


@click.group()
def member() -> None:
    """Look at and change the cluster's membership."""


@member.command("list")
@cluster_option
@cluster_id_option
@json_option
@timeout_option(10.0, "finding the leader")
@client_options
def list_members(
    addresses: str,
    cluster_id: str | None,
    as_json: bool,
    timeout: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> None:
    """Every member as the leader sees it: id, address, voter or learner, match index, lag."""
    members = run_call(
        addresses, cluster_id, timeout, tls, credentials, lambda client: client.members()
    )
    if as_json:
        for m in members:
            click.echo(json.dumps(attrs.asdict(m), sort_keys=True))
    else:
        output_console().print(_members_table(members))


def _change_options(f: Any) -> Any:
    """What every change takes: where the cluster is, the node, how to print, how long."""
    for option in (
        client_options,
        timeout_option(30.0, "the change"),
        json_option,
        _id_option,
        cluster_id_option,
        cluster_option,
    ):
        f = option(f)
    return f


@member.command("add")
@_change_options
@click.option("--address", required=True, metavar="HOST:PORT", help="Where the new node listens.")
@click.option(
    "--learner",
    is_flag=True,
    help="Add it as a learner (every node is added so; the flag says it). Promote it once it "
    "has caught up.",
)
def add(
    addresses: str,
    cluster_id: str | None,
    node_id: int,
    address: str,
    learner: bool,
    as_json: bool,
    timeout: float,
    tls: TLSConfig | None,
    credentials: tuple[str, str] | None,
) -> None:
    """Add a node as a learner: it receives the log and votes on nothing. Then start it with
    `eventraft node --id N --listen HOST:PORT --data-dir DIR --join ADDRS`."""
    try:
        split_address(address)
    except EventLogError as error:
        raise click.BadParameter(str(error), param_hint="--address") from error
    made = run_call(
        addresses,
        cluster_id,
        timeout,
        tls,
        credentials,
        lambda client: client.add_member(node_id, address),
    )
    _show(made, as_json)


def _change_command(
    name: str, call: Callable[[AsyncClient, int], Awaitable[Configuration]], summary: str
) -> None:
    """``member NAME --id N``: one change of the node, its new configuration printed."""

    @member.command(name, help=summary)
    @_change_options
    def command(
        addresses: str,
        cluster_id: str | None,
        node_id: int,
        as_json: bool,
        timeout: float,
        tls: TLSConfig | None,
        credentials: tuple[str, str] | None,
    ) -> None:
        made = run_call(
            addresses, cluster_id, timeout, tls, credentials, lambda client: call(client, node_id)
        )
        _show(made, as_json)


_change_command(
    "promote",
    lambda client, node_id: client.promote_member(node_id),
    "Make a learner that has caught up a voter.",
)
_change_command(
    "remove",
    lambda client, node_id: client.remove_member(node_id),
    "Take a node out of the cluster (the leader too: it steps down once its removal "
    "commits). Its id is never given to another node.",
)
