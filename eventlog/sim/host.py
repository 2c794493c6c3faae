"""A node's host in the simulator: the Ready loop, as the real node runs it.

A host hands the core's Readys to its disk and may take the next Ready before the last one's
fsync is done (``writes_in_flight``, drawn per node and run: 1, 2 or 4), as the node's write
pipeline does. A Ready's writes reach the disk at once, unsynced; a Ready is done once an
fsync after it completes (or at once when it needs none), and done Readys are finished oldest
first: send what waited for the fsync, apply, serve reads, advance. A crash loses whatever
was not synced, in-flight Readys included, and a random prefix of those writes survives.
"""

from __future__ import annotations

import random
from collections import deque
from typing import TYPE_CHECKING

import attrs

from eventlog.raft.ready import Ready, Role
from eventlog.raft.records import Entry, EntryKind

if TYPE_CHECKING:
    from eventlog.sim.cluster import SimCluster, SimNode

__all__ = [
    "InFlight",
    "drive",
    "synced",
    "writes_in_flight",
]

WRITES_IN_FLIGHT = (1, 2, 4)


def writes_in_flight(seed: int, node: int) -> int:
    """Drawn from a stream of its own, so the rest of a seed's run is as it was."""
    return random.Random(f"{seed}/writes-in-flight/{node}").choice(WRITES_IN_FLIGHT)


@attrs.define
class InFlight:
    ready: Ready
    number: int
    """The how-manieth Ready of this incarnation: fsync completions name it."""
    done: bool


def drive(sim: SimCluster, node: SimNode) -> None:
    """Hand out Readys while there is room, and finish those that are done, until neither
    is possible (finishing one may make more work: our own acknowledgements count then)."""
    while node.core is not None and (_hand(sim, node) | _finish_done(sim, node)):
        pass


def synced(sim: SimCluster, node: SimNode, number: int) -> None:
    """An fsync completed: everything written before it is durable, so every Ready up to the
    one it was for is done."""
    if not any(item.number == number for item in node.in_flight):
        return
    node.disk.sync()
    for item in node.in_flight:
        item.done = True
        if item.number == number:
            break
    drive(sim, node)


def _hand(sim: SimCluster, node: SimNode) -> bool:
    core = node.core
    handed = False
    while core is not None and len(node.in_flight) < node.writes_in_flight and core.has_ready():
        rd = core.ready()
        handed = True
        as_leader = rd.soft_state.role is Role.LEADER
        if as_leader:
            counted = (core.memberships.previous, core.membership)
            for entry in rd.committed:
                sim.counted_in.setdefault((entry.index, entry.term), counted)
        sim.checker.wrote_entries(node.id, rd.entries, as_leader)
        node.disk.write(rd.hard_state, rd.entries)
        for m in rd.messages:
            sim.send(m)
        node.handed += 1
        node.in_flight.append(InFlight(rd, node.handed, done=not rd.must_sync))
        if rd.must_sync:
            sim.schedule_fsync(node, node.handed)
    return handed


def _finish_done(sim: SimCluster, node: SimNode) -> bool:
    finished = False
    queue: deque[InFlight] = node.in_flight
    while node.core is not None and queue and queue[0].done:
        _finish(sim, node, queue.popleft().ready)
        finished = True
    return finished


def _finish(sim: SimCluster, node: SimNode, rd: Ready) -> None:
    assert node.core is not None
    for m in rd.messages_after_persist:
        sim.send(m)
    for entry in rd.committed:
        _apply(sim, node, entry)
    for read in rd.read_states:
        acknowledged_before = node.reads.pop(read.context, None)
        if acknowledged_before is not None:
            sim.stats.reads += 1
            sim.checker.read_served(node.id, read.index, acknowledged_before)
    node.core.advance(rd)


def _apply(sim: SimCluster, node: SimNode, entry: Entry) -> None:
    sim.checker.applied_entry(node.id, entry, len(node.applied) + 1)
    node.applied.append(entry)
    if entry.kind is not EntryKind.NORMAL:
        return
    [outcomes] = node.state.apply(entry.data, first_index=entry.index)
    sim.state_checker.applied(node.id, entry.index, outcomes, node.state)
    stamped = sim.stamped_at.get(entry.data)
    if stamped is not None:
        sim.state_checker.clock_moved(node.id, entry.index, node.state.clock_ms(), stamped)
    waiting = sim.waiting.get(entry.data)
    if waiting is not None and waiting == (node.id, entry.term, entry.index):
        del sim.waiting[entry.data]
        sim.checker.acknowledge(entry.data, entry.index, entry.term)
        sim.stats.acknowledged += 1
        sim.log(f"n{node.id} ACK {entry.data!r} at {entry.index}")
