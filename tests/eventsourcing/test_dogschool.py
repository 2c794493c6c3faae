"""The library's dog school on a 3-node cluster over TLS, its ``Counters`` process
application in an OS process of its own (``python -m examples.dogschool counters``), killed
(kill -9) while it counts and started again: every trick counted exactly once."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eventraft.localcluster import LocalCluster, local_cluster, wait_for
from examples.dogschool.application import Counters, DogSchool

ROOT = Path(__file__).resolve().parents[2]
TRICKS = ("roll over", "fetch", "play dead")


def environment(cluster: LocalCluster) -> dict[str, str]:
    tls = cluster.tls
    assert tls is not None and tls.cert is not None and tls.key is not None
    return {
        "PERSISTENCE_MODULE": "eventraft.eventsourcing",
        "EVENTRAFT_CLUSTER": cluster.addresses,
        "EVENTRAFT_TLS_CA": str(tls.ca),
        "EVENTRAFT_TLS_CERT": str(tls.cert),
        "EVENTRAFT_TLS_KEY": str(tls.key),
    }


@contextmanager
def counting(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The counters' process; killed when the block ends, whatever happened."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "examples.dogschool", "counters", "--every", "0.02"],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)


def test_the_counters_in_a_process_of_their_own_count_each_trick_once_across_a_kill(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path / "cluster", tls=True) as cluster:
        cluster.leader(timeout=20)
        env = environment(cluster)
        school, counters = DogSchool(env=env), Counters(env=env)
        rng = random.Random(3)
        dogs = [school.register_dog(name) for name in ("Fido", "Milo", "Rex", "Bella")]
        taught: Tally[str] = Tally()

        def teach(times: int) -> None:
            for _ in range(times):
                trick = rng.choice(TRICKS)
                school.add_trick(rng.choice(dogs), trick)
                taught[trick] += 1

        def counted() -> dict[str, int]:
            return {trick: counters.get_count(trick) for trick in TRICKS}

        log = tmp_path / "counters.log"
        teach(200)
        with counting(env, log) as first:
            wait_for(lambda: sum(counted().values()) >= 10, 30, "the counting to begin")
            first.kill()  # kill -9, mid-way
        assert sum(counted().values()) < 200, "killed before it had counted everything"
        teach(40)
        with counting(env, log):
            wait_for(lambda: counted() == dict(taught), 60, f"every trick counted ({log})")
        assert counted() == {trick: taught[trick] for trick in TRICKS}
        assert school.get_dog(dogs[0])["name"] == "Fido"
        notes = log.read_text()
        assert notes.count("following DogSchool from") == 2
        assert "following DogSchool from None" in notes.splitlines()[0]
        tracked = counters.recorder.max_tracking_id("DogSchool")
        assert tracked is not None and tracked >= 244, "past the school's last notification"
        counters.close()
        school.close()
