"""``eventraft demo``: a real cluster of node processes on this machine, told step by step.

Everything the demo starts lives inside one temporary directory and one ``local_cluster``
block, so the nodes are killed and the directory removed however the demo ends: success, a
failed check, an error, Ctrl-C, SIGTERM or SIGHUP.
"""

from __future__ import annotations

import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from eventlog.errors import EventLogError
from eventraft.demo.access import sign_in_and_refuse
from eventraft.demo.bank import append_accounts, read_back
from eventraft.demo.failover import check_survivors, kill_leader_under_load
from eventraft.demo.narration import Narrator
from eventraft.demo.recovery import restart_and_catch_up
from eventraft.localcluster import (
    LocalCluster,
    NodeProcess,
    local_cluster,
    poll_until,
    tls_environment,
)
from eventraft.statustable import status_table

STEPS = 9
LOG_TAIL = 15


def run_cluster_demo(console: Console, *, nodes: int = 3) -> bool:
    """Run the demo on ``nodes`` local processes; True if every check held."""
    narrator = Narrator(console, steps=STEPS)
    console.rule(f"[bold]eventraft: a {nodes}-node cluster of real processes on this machine")
    console.print(
        "Each node is an [bold]eventraft node[/bold] process with its own LMDB environment, "
        "talking Raft to the others over TLS on 127.0.0.1, with certificates of a CA made for "
        "the demo. Every claim below is checked."
    )
    processes: list[NodeProcess] = []
    with _interrupt_on_termination(), tempfile.TemporaryDirectory(prefix="eventraft-") as tmp:
        data = Path(tmp)
        try:
            with local_cluster(data, nodes, tls=True) as cluster, tls_environment(cluster.tls):
                processes = list(cluster.nodes.values())
                _tell(narrator, cluster, data)
        except (AssertionError, EventLogError) as error:
            narrator.check(False, "every step ran to its end", str(error))
        if not narrator.passed:
            _show_log_tails(console, data)
    narrator.check(
        bool(processes) and not any(node.running for node in processes) and not data.exists(),
        f"no node process is left and {data} is removed",
    )
    narrator.conclude()
    return narrator.passed


def _tell(narrator: Narrator, cluster: LocalCluster, data: Path) -> None:
    narrator.step(f"Start {len(cluster.nodes)} node processes")
    _start(narrator, cluster, data)
    with cluster.client() as client:
        narrator.step("Append events through eventlog.Client, with expected versions")
        last = append_accounts(narrator, client)
        narrator.step("Read them back: a stream from the leader, the whole log from every node")
        read_back(narrator, cluster, client, last)
        narrator.step("Users and roles: each call checked against the caller's permissions")
        sign_in_and_refuse(narrator, cluster, client, data / "tls")
    narrator.step("Status of every node")
    cluster.wait_converged()
    rows = cluster.status_rows()
    narrator.show(status_table(rows))
    narrator.check(
        len({(row["term"], row["leader"], row["digest"]) for row in rows}) == 1,
        "every node names the same leader and term and holds the same history digest",
    )
    narrator.step("kill -9 the leader while appends continue")
    failover = kill_leader_under_load(narrator, cluster)
    narrator.step("Every acknowledged append is on every surviving node, exactly once")
    survivors = check_survivors(narrator, cluster, failover.load)
    narrator.step(f"Restart node {failover.killed}: it catches up and the digests agree")
    restart_and_catch_up(narrator, cluster, failover, survivors)
    narrator.step("Stop everything")
    codes = {node_id: node.terminate() for node_id, node in cluster.nodes.items()}
    narrator.check(
        all(code == 0 for code in codes.values()),
        f"all {len(codes)} nodes stopped cleanly on SIGTERM",
        ", ".join(f"node {node_id}: exit {code}" for node_id, code in codes.items()),
    )


def _start(narrator: Narrator, cluster: LocalCluster, data: Path) -> None:
    started = time.monotonic()
    narrator.say(f"Data and logs in {data}", soft_wrap=True)
    table = Table("node", "pid", "address", "data dir")
    for node_id, node in cluster.nodes.items():
        pid = str(node.process.pid) if node.process else "-"
        table.add_row(str(node_id), pid, node.address, node.data_dir.name)
    narrator.show(table)
    leader = cluster.leader(timeout=20)
    elected = time.monotonic() - started
    term = cluster.status(leader).term

    def everyone_follows() -> bool:
        statuses = cluster.statuses()
        return len(statuses) == len(cluster.nodes) and all(
            (s.leader, s.term) == (leader, term) for s in statuses.values()
        )

    narrator.check(
        poll_until(everyone_follows, 10) is not None,
        f"node {leader} was elected leader of term {term}, and every node follows it",
        f"elected {elected:.2f} s after the processes started",
    )


def _show_log_tails(console: Console, data: Path) -> None:
    """The nodes' last words, before their directory goes away with them."""
    for log in sorted(data.glob("node-*.log")):
        console.rule(f"[dim]last lines of {log.name}", align="left")
        for line in log.read_text(errors="replace").splitlines()[-LOG_TAIL:]:
            console.print(escape(line), style="dim", soft_wrap=True)


@contextmanager
def _interrupt_on_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP end the demo the way Ctrl-C does. By default they end Python at
    once, skipping the ``finally`` blocks that stop the nodes."""

    def interrupt(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {
        signum: signal.signal(signum, interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
