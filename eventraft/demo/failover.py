"""The leader dies mid-write: kill -9 it under load, time the election, then prove on every
surviving node that each acknowledged append is there exactly once."""

from __future__ import annotations

import time

import attrs
from rich.table import Table

from eventlog.client import Client
from eventlog.records import RecordedEvent
from eventraft.demo.load import Load
from eventraft.demo.narration import Narrator
from eventraft.demo.verify import exactly_once
from eventraft.localcluster import LocalCluster, wait_for
from eventraft.statustable import DIGEST_CHARS

WRITERS = 4
LOAD_SECONDS = 1.0
"""How long the writers run before the kill, and again after the election: long enough to
see, and for the restarted node to have a real gap to catch up on."""
CLIENT_TIMEOUT = 10.0


@attrs.frozen(kw_only=True)
class Failover:
    """What recovery needs to know about the kill."""

    killed: int
    position_before_kill: int
    """The last position the killed node reported before it died: its LMDB holds at least
    this much."""
    load: Load
    """The stopped writers, with every acknowledgement they got."""


def kill_leader_under_load(narrator: Narrator, cluster: LocalCluster) -> Failover:
    old = cluster.leader()
    before = cluster.status(old)
    survivors = set(cluster.nodes) - {old}
    with Load(cluster.addresses, writers=WRITERS, timeout=CLIENT_TIMEOUT) as load:
        narrator.say(f"{WRITERS} writers append one event at a time, each to its own stream")
        wait_for(lambda: load.acks(), 20, "the writers' first acknowledgement")
        time.sleep(LOAD_SECONDS)
        position = cluster.status(old).last_position
        victim = cluster.nodes[old]
        pid = victim.process.pid if victim.process else None
        victim.kill()
        killed_at = time.monotonic()
        acked_before = len(load.acks())
        narrator.say(
            f"[bold]kill -9[/bold] node {old} (pid {pid}), leader of term {before.term}, "
            f"after {acked_before} acknowledged appends"
        )
        new = cluster.leader(timeout=10, among=survivors)
        elected = time.monotonic() - killed_at
        term = cluster.status(new).term
        narrator.check(
            term > before.term,
            f"node {new} was elected leader of term {term}",
            f"{elected:.2f} s after the kill",
        )
        first = wait_for(lambda: load.acked_since(killed_at), 10, "an append after the kill")
        resumed = first[0].at - killed_at
        time.sleep(LOAD_SECONDS)
    _show_load(narrator, load, killed_at)
    narrator.check(
        resumed < CLIENT_TIMEOUT and not load.unknown(),
        "no writer saw an error: each append in flight was retried on the new leader",
        f"appends resumed {resumed:.2f} s after the kill",
    )
    return Failover(killed=old, position_before_kill=position, load=load)


def _show_load(narrator: Narrator, load: Load, killed_at: float) -> None:
    acks = load.acks()
    after = [ack for ack in acks if ack.at > killed_at]
    table = Table("appends", "count", title="The writers' view")
    table.add_row("acknowledged before the kill", str(len(acks) - len(after)))
    table.add_row("acknowledged after the kill", str(len(after)))
    table.add_row("deadline passed (outcome unknown)", str(len(load.unknown())))
    narrator.show(table)


def check_survivors(narrator: Narrator, cluster: LocalCluster, load: Load) -> list[RecordedEvent]:
    """Read the whole log from each survivor and hold it against what the writers were told;
    returns the first survivor's log."""
    statuses = cluster.wait_converged()
    last = max(status.last_position for status in statuses.values())
    acks = load.acks()
    table = Table(
        "node", "events", "acknowledged appends found", "problems", "digest", title="Survivors"
    )
    logs: dict[int, list[RecordedEvent]] = {}
    problems: dict[int, list[str]] = {}
    for node_id, status in statuses.items():
        with Client([cluster.nodes[node_id].address], timeout=10) as client:
            logs[node_id] = client.read_all(min_position=last)
        problems[node_id] = exactly_once(acks, logs[node_id], load.streams)
        stored = {(event.stream, event.data) for event in logs[node_id]}
        found = sum((ack.stream, ack.data) in stored for ack in acks)
        table.add_row(
            str(node_id),
            str(len(logs[node_id])),
            f"{found} of {len(acks)}",
            f"[red]{len(problems[node_id])}[/red]" if problems[node_id] else "[green]none[/green]",
            status.digest[:DIGEST_CHARS],
        )
    narrator.show(table)
    for node_id, wrong in problems.items():
        narrator.check(
            not wrong,
            f"node {node_id} holds every acknowledged append exactly once, at its position",
            "; ".join(wrong[:3]),
        )
    first = next(iter(logs.values()))
    narrator.check(
        all(log == first for log in logs.values()),
        f"the survivors' logs are identical, event for event ({len(first)} events)",
    )
    return first
