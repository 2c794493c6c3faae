"""Reads of settled history need no ReadIndex round: a full page below what a member has
applied is answered by that member alone, even cut off from every other, while a read that
reaches its head still needs the leader's confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlog import Client, NewEvent, Unavailable
from tests.cluster.harness import local_cluster


def test_a_member_cut_off_from_the_others_answers_reads_of_settled_history(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path) as cluster:
        with cluster.client() as client:
            for n in range(30):
                client.append(f"s-{n % 3}", [NewEvent("E", str(n).encode())])
        statuses = cluster.wait_converged()
        alone = next(i for i, s in statuses.items() if s.role == "follower")
        for node_id, node in cluster.nodes.items():
            if node_id != alone:
                node.pause()  # SIGSTOP: no leader, no majority, for as long as this lasts
        try:
            with Client([cluster.nodes[alone].address], timeout=3) as lonely:
                assert [e.position for e in lonely.read_all(1, limit=30)] == list(range(1, 31))
                assert [e.position for e in lonely.read_all(11, limit=5)] == list(range(11, 16))
                assert [e.version for e in lonely.read_stream("s-0", 3, limit=8)] == list(
                    range(3, 11)
                )
                assert [e.version for e in lonely.read_stream_backwards("s-1", 4)] == [4, 3, 2, 1]
                for reaches_the_head in (
                    lambda: lonely.read_all(1),  # how far the log goes: only a leader knows
                    lambda: lonely.read_all(25, limit=10),
                    lambda: lonely.read_stream("s-2"),
                    lambda: lonely.read_stream_backwards("s-2"),
                ):
                    with pytest.raises(Unavailable):
                        reaches_the_head()
        finally:
            for node in cluster.nodes.values():
                node.resume()
        with cluster.client() as client:
            assert len(client.read_all(1)) == 30
