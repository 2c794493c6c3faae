"""Options that several commands share, declared once."""

from __future__ import annotations

from typing import Any

import click

from eventlog.protocol.hello import DEFAULT_CLUSTER_ID


def cluster_option(f: Any) -> Any:
    return click.option(
        "--cluster",
        "addresses",
        required=True,
        metavar="ADDRS",
        help="Comma-separated HOST:PORT of one or more nodes; any node will do.",
    )(f)


def cluster_id_option(f: Any) -> Any:
    return click.option(
        "--cluster-id",
        default=DEFAULT_CLUSTER_ID,
        show_default=True,
        help="Identifies the cluster; nodes and clients of another cluster are refused.",
    )(f)
