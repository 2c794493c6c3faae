"""The store ids of peers: met once and recorded, refused when they change, and a node told
by a peer that knew it of another store id than its own stops."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlog.errors import DataDirError, FrameError
from eventlog.node.incarnations import Incarnations
from eventlog.protocol.hello import Hello, hello, parse_hello
from eventlog.types import NodeId


def peer(node: int, incarnation: str, yours: str = "") -> Hello:
    return parse_hello(hello("c", "peer", node, incarnation=incarnation, yours=yours))


def test_a_peer_s_store_is_recorded_once_and_another_is_refused(tmp_path: Path) -> None:
    replaced: list[BaseException] = []
    stores = Incarnations.load(tmp_path, "mine", replaced.append)
    stores.admit(peer(2, "two"))
    stores.admit(peer(2, "two", yours="mine"))
    again = Incarnations.load(tmp_path, "mine", replaced.append)  # after a restart
    assert again.yours(NodeId(2)) == "two" and again.yours(NodeId(3)) == ""
    with pytest.raises(FrameError, match="node 2 came back on another store"):
        again.admit(peer(2, "emptied"))
    assert again.yours(NodeId(2)) == "two" and not replaced


def test_a_node_told_its_store_is_not_the_one_known_stops(tmp_path: Path) -> None:
    replaced: list[BaseException] = []
    stores = Incarnations.load(tmp_path, "new", replaced.append)
    with pytest.raises(FrameError):
        stores.admit(peer(1, "one", yours="old"))
    [error] = replaced
    assert isinstance(error, DataDirError) and "add it back as a new member" in str(error)


def test_a_peer_hello_without_store_ids_still_parses() -> None:
    plain = parse_hello(hello("c", "peer", 2))
    assert (plain.incarnation, plain.yours) == ("", "")
    with pytest.raises(FrameError):
        parse_hello(["hello", 1, "c", "peer", 2, {"incarnation": 7}])
