"""A frame that claims to come from a peer and names a term no election could reach (the
top of its range) is refused and its connection closed: no node takes that term, and the
cluster goes on electing leaders, after restarts too."""

from __future__ import annotations

import socket
from pathlib import Path

from eventlog import NewEvent
from eventlog.protocol.frames import encode_frame
from eventlog.protocol.hello import hello
from tests.cluster.harness import local_cluster, wait_for

HEARTBEAT = 7
"""Heartbeat's stable tag: ``[7, src, dst, term, commit, context]``."""


def test_a_forged_heartbeat_with_a_huge_term_changes_no_node(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as c:
        c.leader(timeout=20)
        cluster_id = c.status(1).cluster_id
        for node, process in c.nodes.items():
            claimed = 1 if node != 1 else 2
            with socket.create_connection(("127.0.0.1", process.port), timeout=5) as sock:
                sock.sendall(encode_frame(hello(cluster_id, "peer", claimed)))
                forged = [HEARTBEAT, claimed, node, 2**64 - 1, 0, b""]
                sock.sendall(encode_frame(forged))
                assert sock.recv(1) == b"", "the node closes the connection"
        for node in c.nodes:
            assert c.status(node).term < 2**62, "no node took the forged term"
        with c.client() as client:
            client.append("s", [NewEvent("E", b"after")])
        c.nodes[1].terminate()
        c.nodes[1].start()
        wait_for(lambda: c.statuses().get(1), 20, "node 1 to serve again")
        c.nodes[c.leader(timeout=20)].terminate()  # an election must still be possible
        with c.client() as client:
            client.append("s", [NewEvent("E", b"after an election")])
