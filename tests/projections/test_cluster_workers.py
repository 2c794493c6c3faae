"""Worker processes against a real 3-node cluster: live follow, kill -9 mid-batch, the leader
killed under a following worker, an active/standby pair, a paused former owner, and a rebuild
switching the target under a running worker.

One cluster serves the module; each test has its own projection (its own lease) and target,
and checks its read model against the whole log as the cluster holds it. Every read model
records each applied position under a primary key, so a duplicate would stop the worker, and
the applied positions must be exactly 1..N: no gap, no duplicate.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventlog import Client, EventLogError, LeaseGrant
from eventraft.localcluster import LocalCluster, local_cluster
from projections import lease_name
from tests.projections.harness import WorkerProcess, processes, wait_for
from tests.projections.sample import (
    Withdrawn,
    deposits,
    encode,
    expected_totals,
    sqlite_checkpoint,
    sqlite_model,
    sqlite_token,
)

SAMPLE = "tests.projections.sample"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with local_cluster(
        tmp_path_factory.mktemp("cluster"), extra_args=("--unsafe-no-fsync",)
    ) as started:
        started.leader(timeout=20)
        yield started


@pytest.fixture
def client(cluster: LocalCluster) -> Iterator[Client]:
    with cluster.client() as opened:
        yield opened


def behind(client: Client, target: Path) -> int:
    """How many events the log holds past the target's checkpoint (at most 100 counted),
    read from the leader; -1 while the target does not exist."""
    checkpoint = sqlite_checkpoint(target)
    return -1 if checkpoint < 0 else len(client.read_all(checkpoint + 1, 100))


def worker(
    cluster: LocalCluster,
    tmp_path: Path,
    projection: str,
    target: Path,
    *extra: str,
    owner: str = "worker",
    addresses: str | None = None,
) -> WorkerProcess:
    return WorkerProcess(
        [
            "--cluster",
            addresses or cluster.addresses,
            f"{SAMPLE}:{projection}",
            "--target",
            str(target),
            "--owner",
            owner,
            "--report-every",
            "1",
            *extra,
        ],
        tmp_path / f"{owner}.log",
    )


def check_exact(client: Client, target: Path) -> None:
    """The read model is the whole log applied once: positions 1..N, totals as computed."""
    log = client.read_all(1)
    model = sqlite_model(target)
    assert model.checkpoint == log[-1].position
    assert model.applied == tuple(range(1, log[-1].position + 1))
    assert model.totals == expected_totals(log)


def caught_up(client: Client, target: Path) -> bool:
    return behind(client, target) == 0


def holder(client: Client, projection: str) -> LeaseGrant | None:
    held = {lease.name for lease in client.status().leases if not lease.expired}
    for grant in client.leases():
        if grant.name == lease_name(projection) and grant.name in held:
            return grant
    return None


def test_a_worker_process_follows_live_appends_and_stops_on_sigterm(
    cluster: LocalCluster, client: Client, tmp_path: Path
) -> None:
    for n in range(5):
        client.append(f"acct-{n}", deposits(100, amount=n))
    target = tmp_path / "totals.db"
    with processes() as started:
        started.append(worker(cluster, tmp_path, "Totals", target).start())
        wait_for(lambda: caught_up(client, target), 20, "catch-up")
        for i in range(40):
            client.append("acct-live", [encode(Withdrawn(amount=i))])
        wait_for(lambda: caught_up(client, target), 10, "live appends")
        assert started[0].logged("following_live")
        started[0].signal(signal.SIGTERM)
        assert started[0].wait() == 0, started[0].tail()
    check_exact(client, target)
    assert holder(client, "totals") is None, "released on SIGTERM"
    [stopped] = [lease for lease in client.status().leases if lease.name == "projection:totals"]
    assert (stopped.stopped, stopped.checkpoint) == (True, client.status().last_position)
    assert started[0].logged("lease_released")


def test_kill_9_mid_batch_and_restart_gives_the_exact_read_model(
    cluster: LocalCluster, client: Client, tmp_path: Path
) -> None:
    for n in range(30):
        total = client.append(f"bulk-{n % 4}", deposits(1000, amount=n)).last_position
    target = tmp_path / "totals.db"
    kills = []
    with processes() as started:
        for round_ in range(3):
            process = worker(
                cluster,
                tmp_path,
                "TotalsTwo",
                target,
                *("--batch-size", "300", "--lease-ttl", "0.6"),
                owner=f"w{round_}",
            )
            started.append(process.start())
            floor = max(kills, default=0)
            wait_for(lambda f=floor: sqlite_checkpoint(target) > f, 20, "progress")
            process.kill()
            kills.append(sqlite_checkpoint(target))
        assert kills[-1] < total, "the kills came before the end"
        last = worker(cluster, tmp_path, "TotalsTwo", target, "--lease-ttl", "0.6", owner="final")
        started.append(last.start())
        wait_for(lambda: caught_up(client, target), 30, "the restarted worker")
    check_exact(client, target)


def test_killing_the_leader_under_a_following_worker_loses_and_repeats_nothing(
    cluster: LocalCluster, client: Client, tmp_path: Path
) -> None:
    target = tmp_path / "totals.db"
    stop, failures = threading.Event(), []

    def append_steadily() -> None:
        with Client(cluster.addresses, timeout=20) as writer:
            while not stop.wait(0.005):
                try:
                    writer.append("acct-steady", deposits(3))
                except EventLogError as error:
                    failures.append(error)

    load = threading.Thread(target=append_steadily)
    old = cluster.leader()
    # The leader first: the worker reads, subscribes and renews its lease there.
    first = [cluster.nodes[old].address]
    others = [node.address for n, node in cluster.nodes.items() if n != old]
    with processes() as started:
        started.append(
            worker(
                cluster,
                tmp_path,
                "TotalsThree",
                target,
                *("--lease-ttl", "3"),
                addresses=",".join(first + others),
            ).start()
        )
        wait_for(lambda: caught_up(client, target), 20, "catch-up")
        load.start()
        try:
            wait_for(lambda: 0 <= behind(client, target) < 50, 10, "the worker to follow live")
            old = cluster.leader()
            cluster.nodes[old].kill()
            cluster.leader(timeout=10, among=set(cluster.nodes) - {old})
            moved = sqlite_checkpoint(target)
            wait_for(lambda: sqlite_checkpoint(target) > moved + 30, 20, "following after")
        finally:
            stop.set()
            load.join(30)
            if not cluster.nodes[old].running:
                cluster.nodes[old].start()
        wait_for(lambda: caught_up(client, target), 20, "the worker to catch up")
        assert started[0].running, started[0].tail()
    assert not failures, failures[:3]
    check_exact(client, target)
    cluster.wait_converged()


def test_one_of_two_workers_writes_and_the_other_takes_over_when_it_dies(
    cluster: LocalCluster, client: Client, tmp_path: Path
) -> None:
    target, ttl = tmp_path / "totals.db", 1.5
    client.append("acct-pair", deposits(50))
    with processes() as started:
        first = worker(cluster, tmp_path, "TotalsFour", target, "--lease-ttl", str(ttl), owner="a")
        started.append(first.start())
        wait_for(lambda: first.logged("active"), 20, "the first worker to be active")
        second = worker(cluster, tmp_path, "TotalsFour", target, "--lease-ttl", str(ttl), owner="b")
        started.append(second.start())
        wait_for(lambda: second.logged("standby"), 20, "the second worker to stand by")
        client.append("acct-pair", deposits(20))
        wait_for(lambda: caught_up(client, target), 10, "the active worker")
        grant = holder(client, "totals-four")
        assert grant is not None and grant.owner == "a"
        assert sqlite_token(target) == grant.token
        assert not second.logged("active"), "the standby never writes"
        first.kill()
        wait_for(lambda: second.logged("active"), 20, "the standby to take over")
        client.append("acct-pair", deposits(20))
        wait_for(lambda: caught_up(client, target), 10, "the new active worker")
        new = holder(client, "totals-four")
        assert new is not None and new.owner == "b" and new.token > grant.token
        assert sqlite_token(target) == new.token
    check_exact(client, target)


def test_a_paused_former_owner_cannot_write_after_losing_its_lease(
    cluster: LocalCluster, client: Client, tmp_path: Path
) -> None:
    target, ttl = tmp_path / "totals.db", "1"
    client.append("acct-pause", deposits(20))
    with processes() as started:
        first = worker(cluster, tmp_path, "TotalsFive", target, "--lease-ttl", ttl, owner="paused")
        started.append(first.start())
        wait_for(lambda: caught_up(client, target), 20, "the first worker")
        second = worker(cluster, tmp_path, "TotalsFive", target, "--lease-ttl", ttl, owner="live")
        started.append(second.start())
        wait_for(lambda: second.logged("standby"), 20, "the standby")
        first.signal(signal.SIGSTOP)
        wait_for(lambda: second.logged("active"), 10, "the standby to take over")
        client.append("acct-pause", deposits(30))
        wait_for(lambda: caught_up(client, target), 10, "the new owner")
        token = sqlite_token(target)
        first.signal(signal.SIGCONT)
        wait_for(lambda: first.logged("ownership_lost"), 10, "the old owner to notice")
        client.append("acct-pause", deposits(30))
        wait_for(lambda: caught_up(client, target), 10, "the new owner")
        assert first.running and second.running
        assert sqlite_token(target) == token
        grant = holder(client, "totals-five")
        assert grant is not None and grant.owner == "live"
    check_exact(client, target)


def test_rebuild_switches_under_a_running_worker_and_equals_incremental(
    cluster: LocalCluster, client: Client, tmp_path: Path
) -> None:
    target = tmp_path / "totals.db"
    with processes() as started:
        started.append(worker(cluster, tmp_path, "TotalsSix", target, owner="w").start())
        wait_for(lambda: caught_up(client, target), 20, "catch-up")
        before = target.resolve()
        rebuilt = rebuild(cluster, target)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "rebuilt totals-six to position" in rebuilt.stdout
        assert target.resolve() != before and not before.exists()
        client.append("acct-rebuild", deposits(25))
        wait_for(lambda: caught_up(client, target), 10, "the worker on the new generation")
        assert started[0].logged("target_switched")
    check_exact(client, target)
    fresh = tmp_path / "fresh.db"
    assert rebuild(cluster, fresh).returncode == 0
    assert sqlite_model(fresh) == sqlite_model(target)


def rebuild(cluster: LocalCluster, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "eventraft",
            "rebuild",
            "--cluster",
            cluster.addresses,
            f"{SAMPLE}:TotalsSix",
            "--target",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_worker_given_one_address_resumes_after_that_node_dies(
    cluster: LocalCluster, client: Client, tmp_path: Path
) -> None:
    """Any one address will do: the worker learns the other members from the node."""
    target = tmp_path / "totals.db"
    only = next(n for n in cluster.nodes if n != cluster.leader())
    with processes() as started:
        started.append(
            worker(
                cluster,
                tmp_path,
                "TotalsSeven",
                target,
                *("--lease-ttl", "3"),
                addresses=cluster.nodes[only].address,
            ).start()
        )
        client.append("acct-one-address", deposits(3))
        wait_for(lambda: caught_up(client, target), 20, "catch-up")
        cluster.nodes[only].kill()
        try:
            cluster.leader(timeout=10, among=set(cluster.nodes) - {only})
            moved = sqlite_checkpoint(target)
            client.append("acct-one-address", deposits(3))
            wait_for(lambda: sqlite_checkpoint(target) > moved, 20, "following after")
            assert started[0].running, started[0].tail()
        finally:
            cluster.nodes[only].start()


def test_a_worker_given_only_a_learner_catches_up_from_it_and_holds_its_lease(
    cluster: LocalCluster, client: Client, tmp_path: Path
) -> None:
    """A read replica: the worker reads and subscribes on the learner it is given; its lease
    (a write) reaches the leader through it. Last in the module: it adds a member for a while."""
    for n in range(5):
        client.append(f"acct-replica-{n}", deposits(50, amount=n))
    learner = cluster.joining(9, tmp_path)
    client.add_member(9, learner.address)
    learner.start()
    try:
        wait_for(lambda: any(m.id == 9 and m.lag == 0 for m in client.members()), 60, "learner")
        target = tmp_path / "replica.db"
        with processes() as started:
            replica = worker(
                cluster, tmp_path, "TotalsOnALearner", target, addresses=learner.address
            ).start()
            started.append(replica)
            wait_for(lambda: caught_up(client, target), 30, "catch-up from the learner")
            client.append("acct-replica-live", [encode(Withdrawn(amount=3))])
            wait_for(lambda: caught_up(client, target), 10, "a live append")
            assert holder(client, "totals-on-a-learner") is not None
            replica.signal(signal.SIGTERM)
            assert replica.wait() == 0, replica.tail()
        check_exact(client, target)
    finally:
        client.remove_member(9)
        learner.kill()
        del cluster.nodes[9]
