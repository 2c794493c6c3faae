"""Members compare the digests of their histories at common entries: one whose history
differs from the majority's, by damage its checksums cannot see (a record rewritten whole, a
bug), raises a corruption alarm on itself naming where it differs; the others go on."""

from __future__ import annotations

from pathlib import Path

import lmdb

from eventlog.records import NewEvent
from eventlog.store import layout, sealed
from tests.node.harness import cluster, run


def rewrite_digest(data_dir: Path) -> None:
    """Give a stopped node's history another digest, its checksum right: what a bug writes."""
    env = lmdb.open(str(data_dir), max_dbs=16)
    with env.begin(write=True) as txn:
        meta = env.open_db(b"meta", txn=txn, create=False)
        sealed.put(txn, meta, layout.M_DIGEST, b"\x07" * 32)
    env.close()


def test_a_member_whose_history_differs_from_the_majority_s_raises_its_alarm(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            client = c.client()
            for n in range(3):
                await c.ticking(client.append("s", [NewEvent("E", b"%d" % n)]), "an append")
            await c.caught_up()
            odd = c.followers()[0].config.node_id
            await c.stop(odd)
            rewrite_digest(tmp_path / f"node-{odd}")
            node = await c.start(c.build(odd))

            async def append_until_alarm() -> None:
                n = 3
                while node.health.serving:
                    await client.append("s", [NewEvent("E", b"%d" % n)])
                    n += 1

            await c.ticking(append_until_alarm(), "the odd node raising its alarm")
            assert node.health.corruption is not None
            others = sorted(str(n) for n in c.addresses if n != odd)
            assert f"differs from nodes {', '.join(others)}" in node.health.corruption
            assert "history at" in node.health.corruption
            assert [a.kind for a in node.status().alarms] == ["corrupt"]
            for other in c.nodes.values():
                if other is not node:
                    assert other.health.serving, other.health.corruption
            c.nodes.pop(odd)  # out of the ticking
            server = c.servers.pop(odd)
            result = await c.ticking(client.append("s", [NewEvent("E", b"after")]), "append")
            assert result.last_position > 3
            assert leader.health.serving
            await server.close()
            await node.stop()

    run(main)
