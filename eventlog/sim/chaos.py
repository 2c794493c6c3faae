"""Fault injection: what each fault of the plan does to a running simulated cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventlog.sim.faults import Fault
from eventlog.sim.network import NetworkConditions

if TYPE_CHECKING:
    from eventlog.sim.cluster import SimCluster


def inject(sim: SimCluster, fault: Fault) -> None:
    """Strike with ``fault``; one that does not apply now (no leader, nobody down) does nothing."""
    rng, net = sim.fault_rng, sim.network
    up = sim.up_nodes()
    down = [node for node in sim.nodes.values() if node.core is None]
    leader = sim.leader_node()
    ids = list(sim.voters)
    match fault:
        case Fault.CRASH if up:
            sim.crash(rng.choice(up))
        case Fault.CRASH_LEADER if leader is not None:
            sim.crash(leader)
        case Fault.RESTART if down:
            node = rng.choice(down)
            sim.start(node)
            sim.note(f"n{node.id} restarted")
        case Fault.PARTITION:
            rng.shuffle(ids)
            cut = rng.randint(1, len(ids) - 1)
            net.partition(ids[:cut], ids[cut:])
            sim.stats.partitions += 1
            sim.note(f"partition {sorted(ids[:cut])} | {sorted(ids[cut:])}")
        case Fault.ISOLATE_LEADER if leader is not None:
            net.partition([leader.id], [i for i in ids if i != leader.id])
            sim.stats.partitions += 1
            sim.note(f"leader n{leader.id} cut off from the rest")
        case Fault.ONE_WAY:
            src, dst = rng.sample(ids, 2)
            net.block(src, dst)
            sim.stats.partitions += 1
            sim.note(f"one-way cut: n{src} can no longer reach n{dst}")
        case Fault.FLAP:
            src, dst = rng.sample(ids, 2)
            sim.start_flapping(src, dst, rng.randint(2, 12))
            sim.stats.partitions += 1
            sim.note(f"link n{src} -> n{dst} starts flapping")
        case Fault.HEAL:
            net.heal()
            sim.note("network healed")
        case Fault.DEGRADE:
            net.conditions = NetworkConditions(
                max_delay_ms=rng.choice([3.0, 20.0, 80.0]),
                drop_rate=rng.choice([0.0, 0.05, 0.3]),
                duplicate_rate=rng.choice([0.0, 0.05, 0.2]),
            )
            c = net.conditions
            sim.note(
                f"network now delays up to {c.max_delay_ms:.0f}ms, loses "
                f"{c.drop_rate:.0%}, duplicates {c.duplicate_rate:.0%}"
            )
        case Fault.TRANSFER if leader is not None and leader.core is not None:
            target = rng.choice([i for i in ids if i != leader.id])
            leader.core.transfer_leadership(target)
            sim.stats.transfers += 1
            sim.note(f"leader n{leader.id} asked to hand leadership to n{target}")
            sim.drive(leader)
        case _:
            pass
