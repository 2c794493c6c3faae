"""The identities certificates carry: a node's id, or a client's user name.

A node's certificate says ``OU=eventraft-node, CN=node-<id>``; a client's says
``OU=eventraft-client, CN=<user>``. The unit keeps the two apart, so no client certificate
can pass for a node, whatever its name. Both are read from what ``ssl`` verified
(``SSLObject.getpeercert()``), never from anything the peer says."""

from __future__ import annotations

import re
from typing import Any

from eventlog.types import NodeId

__all__ = [
    "CLIENT_UNIT",
    "NODE_UNIT",
    "node_name",
    "node_of",
    "subject_of",
    "user_of",
]

NODE_UNIT = "eventraft-node"
CLIENT_UNIT = "eventraft-client"
_NODE_NAME = re.compile(r"node-([1-9][0-9]{0,18})")


def node_name(node: int) -> str:
    return f"node-{node}"


def subject_of(peercert: dict[str, Any] | None) -> tuple[str, str] | None:
    """``(unit, common name)`` of a verified certificate; None without one."""
    if not peercert:
        return None
    fields: dict[str, str] = {}
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            fields.setdefault(key, value)
    unit, name = fields.get("organizationalUnitName"), fields.get("commonName")
    return (unit, name) if unit and name else None


def node_of(peercert: dict[str, Any] | None) -> NodeId | None:
    """The node a verified certificate names, or None if it is no node's."""
    subject = subject_of(peercert)
    if subject is None or subject[0] != NODE_UNIT:
        return None
    matched = _NODE_NAME.fullmatch(subject[1])
    return NodeId(int(matched.group(1))) if matched else None


def user_of(peercert: dict[str, Any] | None) -> str | None:
    """The user a verified client certificate names, or None if it is no client's."""
    subject = subject_of(peercert)
    return subject[1] if subject is not None and subject[0] == CLIENT_UNIT else None
