"""A node whose data directory was emptied (or replaced by another store) has forgotten its
vote and what it acknowledged: it must not rejoin as the member it was. Its peers know the
store each member runs on; they refuse the stranger, and it stops, saying what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from eventlog import NewEvent
from tests.cluster.harness import dump_logs, local_cluster


def test_a_node_on_an_emptied_directory_is_refused_and_stops_saying_why(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as c:
        c.leader(timeout=20)
        with c.client() as client:
            client.append("kept", [NewEvent("E", b"before")])
        c.wait_converged()
        known = json.loads((c.nodes[1].data_dir / "peers.json").read_text())
        assert set(known) == {"2", "3"}, "node 1 met both its peers' stores"

        c.nodes[3].terminate()
        shutil.rmtree(c.nodes[3].data_dir)
        c.nodes[3].start()
        process = c.nodes[3].process
        assert process is not None
        assert process.wait(timeout=30) == 1, dump_logs(c)
        log = c.nodes[3].log_path.read_text()
        assert "emptied or replaced" in log and "add it back as a new member" in log, log

        with c.client() as client:
            client.append("kept", [NewEvent("E", b"after")])
            assert [e.data for e in client.read_stream("kept")] == [b"before", b"after"]
