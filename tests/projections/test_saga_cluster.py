"""The bank's transfer saga as a worker process on a real 3-node cluster, killed (kill -9)
in the middle of its transfers and started again: every transfer ends completed, failed or
compensated, each step taken once, and no money is made or lost."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from aggregates import Repository
from eventlog import EventFilter
from eventraft.localcluster import LocalCluster, local_cluster
from examples.bank import ENDED, Account, Transfer
from tests.projections.harness import WorkerProcess, processes, wait_for

SAGA = "examples.bank.saga:TransferSaga"
STEPS = {
    "completed": ["TransferRequested", "TransferDebited", "TransferCompleted"],
    "failed": ["TransferRequested", "TransferFailed"],
    "compensated": ["TransferRequested", "TransferDebited", "TransferCompensated"],
}


def saga(cluster: LocalCluster, tmp_path: Path, owner: str) -> WorkerProcess:
    return WorkerProcess(
        ["--cluster", cluster.addresses, SAGA, "--owner", owner, "--lease-ttl", "1"],
        tmp_path / f"{owner}.log",
    )


def test_a_saga_killed_mid_transfer_ends_every_transfer_once_and_conserves_money(
    tmp_path: Path,
) -> None:
    with (
        local_cluster(tmp_path / "cluster", extra_args=("--unsafe-no-fsync",)) as cluster,
        cluster.client() as client,
    ):
        cluster.leader(timeout=20)
        repository = Repository(client)
        accounts = [Account.open(f"owner-{n}") for n in range(6)]
        for account in accounts:
            account.deposit(10_000)
        closed = Account.open("gone")
        closed.close()
        repository.save(*accounts, closed)
        rng = random.Random(16)
        transfers = []
        for n in range(200):
            source, target = rng.sample(accounts, 2)
            payee = closed if n % 10 == 3 else target  # refused: given back
            transfers.append(Transfer.request(source.id, payee.id, rng.randint(1, 4000)))
        for start in range(0, len(transfers), 50):
            repository.save(*transfers[start : start + 50])

        def ended() -> int:
            status = [repository.get(Transfer, t.id).status for t in transfers]
            return sum(s in ENDED for s in status)

        with processes() as started:
            first = saga(cluster, tmp_path, "first")
            started.append(first.start())
            wait_for(lambda: ended() >= 20, 30, "the first transfers to end")
            first.kill()
            at_kill = ended()
            assert at_kill < len(transfers), "the kill came before the end"
            second = saga(cluster, tmp_path, "second")
            started.append(second.start())
            wait_for(lambda: ended() == len(transfers), 60, f"every transfer ({second.tail()})")
            [resumed] = second.logged("active")
            assert resumed["checkpoint"] > 0, "from the record the first one left"
            assert not second.logged("poison_event"), "no step taken twice"

        final = [repository.get(Transfer, t.id) for t in transfers]
        statuses = Counter(t.status for t in final)
        assert statuses["completed"] and statuses["failed"] and statuses["compensated"]
        for transfer in final:
            steps = [e.type for e in client.read_stream(f"Transfer-{transfer.id}")]
            assert steps == STEPS[transfer.status], (transfer.id, steps)
        expected = {account.id: 10_000 for account in accounts} | {closed.id: 0}
        for transfer in final:
            if transfer.status == "completed":
                expected[transfer.source] -= transfer.amount
                expected[transfer.target] += transfer.amount
        balances = {a: repository.get(Account, a).balance for a in expected}
        assert balances == expected
        assert sum(balances.values()) == 60_000, "no money made or lost"
        moved = client.read_all(filter=EventFilter(types=("MoneyWithdrawn",)))
        assert len(moved) == statuses["completed"] + statuses["compensated"], "each taken once"
        assert client.max_tracking("transfer-saga") is not None
