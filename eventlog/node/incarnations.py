"""Which store each peer runs on, so that a node whose directory was emptied or replaced
cannot rejoin as the member it was. Such a node has forgotten its vote and what it
acknowledged, which Raft's safety argument needs it to remember; it must come back as a new
member instead.

Every store has an id of its own (``LmdbStorage.incarnation``). A peer's hello says its store
id and the one it knows for the node it dials. A node records the store id of each peer the
first time it meets it (``peers.json`` beside its store). A peer that later says another is a
replaced store: its connection is refused, so its votes and acknowledgements never count. A
node told, by a peer that knew it, of a store id other than its own is that replaced store:
it stops, saying so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import attrs

from eventlog.errors import DataDirError, FrameError
from eventlog.protocol.hello import Hello
from eventlog.store.alarms import PEERS_FILE, write_whole

__all__ = [
    "REJOIN",
    "Incarnations",
]

REJOIN = "remove it from the cluster and add it back as a new member"


@attrs.define
class Incarnations:
    own: str
    directory: Path
    on_replaced: Callable[[BaseException], None]
    """Called, once, when a peer says this node's store is not the one it knew."""
    known: dict[int, str] = attrs.field(factory=dict)

    @classmethod
    def load(
        cls, directory: Path, own: str, on_replaced: Callable[[BaseException], None]
    ) -> Incarnations:
        try:
            raw = json.loads((directory / PEERS_FILE).read_text())
            known = {int(node): str(store) for node, store in raw.items()}
        except FileNotFoundError:
            known = {}
        except (ValueError, TypeError, AttributeError) as error:
            raise DataDirError(directory, f"{PEERS_FILE} does not decode: {error}") from error
        return cls(own, directory, on_replaced, known)

    def yours(self, peer: int) -> str:
        return self.known.get(peer, "")

    def admit(self, hello: Hello) -> None:
        """Check a peer's hello; ``FrameError`` refuses its connection."""
        if hello.yours and hello.yours != self.own:
            self.on_replaced(
                DataDirError(
                    self.directory,
                    f"is not the store node {hello.node_id} knew for this node (it was emptied"
                    f" or replaced, so this node has forgotten its vote): {REJOIN}",
                )
            )
            raise FrameError("this node's store was replaced")
        if not hello.incarnation:  # a peer of a build without store ids
            return
        known = self.known.get(hello.node_id)
        if known is None:
            self.known[hello.node_id] = hello.incarnation
            write_whole(self.directory / PEERS_FILE, json.dumps(self.known))
        elif known != hello.incarnation:
            raise FrameError(
                f"node {hello.node_id} came back on another store ({hello.incarnation}, not"
                f" {known}): it was emptied or replaced; {REJOIN}"
            )
