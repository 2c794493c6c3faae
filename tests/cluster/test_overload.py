"""10,000 appends in flight at once on one client against a 3-node cluster, twice over: every
call is answered, each acknowledged append is in the log exactly once, and neither the
client nor the leader holds more connections for it (one per node address)."""

from __future__ import annotations

import asyncio
import collections
import os
from pathlib import Path

from eventlog import AsyncClient, EventLogError, NewEvent
from tests.cluster.harness import local_cluster

IN_FLIGHT = 10_000
WAVES = 2


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_ten_thousand_appends_in_flight_are_each_answered_and_kept_once(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        leader = cluster.leader(timeout=20)
        process = cluster.nodes[leader].process
        assert process is not None

        async def main() -> tuple[list[bytes], collections.Counter[str], list[int]]:
            acked: list[bytes] = []
            errors: collections.Counter[str] = collections.Counter()
            fds: list[int] = []
            async with AsyncClient(cluster.addresses, timeout=30.0) as client:
                await client.append("warm-up", [NewEvent("E", b"0")])
                fds.extend([descriptors(os.getpid()), descriptors(process.pid)])

                async def one(wave: int, n: int) -> None:
                    payload = b"%d-%d" % (wave, n)
                    try:
                        await client.append(f"load-{n % 64}", [NewEvent("E", payload)])
                    except EventLogError as error:
                        errors[type(error).__name__] += 1
                    else:
                        acked.append(payload)

                for wave in range(WAVES):
                    await asyncio.gather(*(one(wave, n) for n in range(IN_FLIGHT)))
                    fds.extend([descriptors(os.getpid()), descriptors(process.pid)])
            return acked, errors, fds

        acked, errors, fds = asyncio.run(main())
        assert len(acked) + sum(errors.values()) == WAVES * IN_FLIGHT, "every call answered"
        assert set(errors) <= {"Unavailable", "Overloaded"}, errors
        assert len(acked) >= IN_FLIGHT, f"most appends went through: {errors}"
        with cluster.client(timeout=60.0) as reader:
            stored = collections.Counter(
                event.data for event in reader.read_all() if event.stream.startswith("load-")
            )
        assert all(stored[payload] == 1 for payload in acked), "kept, and kept once"
        client_fds, leader_fds = fds[0::2], fds[1::2]
        assert max(client_fds) <= client_fds[0] + 3, f"one connection per node: {client_fds}"
        assert max(leader_fds) <= leader_fds[0] + 3, f"no connection leaked: {leader_fds}"
