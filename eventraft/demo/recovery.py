"""The killed node comes back: it reopens its LMDB where it was, catches up on what it missed,
and ends with the same history as the others, digest for digest."""

from __future__ import annotations

import time

from eventlog.client import Client
from eventlog.records import RecordedEvent
from eventraft.demo.failover import Failover
from eventraft.demo.narration import Narrator
from eventraft.localcluster import LocalCluster, wait_for
from eventraft.statustable import status_table


def restart_and_catch_up(
    narrator: Narrator, cluster: LocalCluster, failover: Failover, survivors: list[RecordedEvent]
) -> None:
    """``survivors``: the log the surviving nodes agreed on while this one was down."""
    node = cluster.nodes[failover.killed]
    node.start()
    started = time.monotonic()
    narrator.say(f"node {node.node_id} restarted (pid {node.process.pid if node.process else '?'})")
    reopened = wait_for(lambda: cluster.status(node.node_id), 15, f"node {node.node_id} to serve")
    serving = time.monotonic() - started
    before = failover.position_before_kill
    narrator.check(
        reopened.last_position >= before,
        f"it serves again, with at least the {before} events it had applied before the kill",
        f"at position {reopened.last_position}, {serving:.2f} s after the restart",
    )
    statuses = cluster.wait_converged()
    caught_up = time.monotonic() - started
    final = statuses[node.node_id]
    narrator.check(
        len({(s.last_position, s.digest) for s in statuses.values()}) == 1,
        f"it caught up on the {final.last_position - before} events it missed: all "
        f"{len(statuses)} nodes agree on position {final.last_position} and its digest",
        f"{caught_up:.2f} s after the restart",
    )
    cluster.leader()
    narrator.show(status_table(cluster.status_rows(), title="Status after the restart"))
    with Client([node.address], timeout=10) as restarted:
        log = restarted.read_all(min_position=final.last_position)
    narrator.check(
        log == survivors,
        f"node {node.node_id}'s log is the survivors' log, event for event ({len(log)} events)",
    )
