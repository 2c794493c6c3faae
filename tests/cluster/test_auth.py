"""Users, roles and permissions on a cluster of processes over TLS: who may sign in, what each
may do, and that every refusal is typed, immediate, and leaves the cluster as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eventlog import (
    AccessChangeRefused,
    AuthenticationFailed,
    Client,
    EventFilter,
    NewEvent,
    PermissionDenied,
    Tracking,
)
from eventlog.security.tls import TLSConfig
from tests.cluster.harness import LocalCluster, local_cluster, wait_for

E = [NewEvent("E", b"x")]


def ca_only(tmp: Path) -> TLSConfig:
    return TLSConfig(ca=str(tmp / "tls" / "ca.pem"))


def signed_in(cluster: LocalCluster, tmp: Path, user: str, password: str) -> Client:
    # A minute's deadline: a client that retried instead of failing at once would raise
    # Unavailable, not the typed error.
    return Client(cluster.addresses, timeout=60, tls=ca_only(tmp), credentials=(user, password))


def snapshot(admin: Client) -> list[tuple[int, str, bytes]]:
    return [(e.position, e.stream, e.data) for e in admin.read_all()]


def test_a_user_may_do_what_its_roles_allow_and_nothing_else(tmp_path: Path) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as admin:
        admin.append("orders-1", E)
        admin.append("payments-1", E)
        admin.add_role("orders-clerk", [("read", "orders-"), ("write", "orders-")])
        admin.add_user("ann", "ann's secret", ["orders-clerk"])
        before = snapshot(admin)
        with signed_in(cluster, tmp_path, "ann", "ann's secret") as ann:
            assert ann.whoami()[0] == "ann"
            ann.append("orders-2", E)
            assert [e.data for e in ann.read_stream("orders-1")] == [b"x"]
            with pytest.raises(PermissionDenied) as denied:
                ann.read_stream("payments-1")
            assert (denied.value.user, denied.value.permission, denied.value.name) == (
                "ann",
                "read",
                "payments-1",
            )
            with pytest.raises(PermissionDenied, match="may not read 'the whole log'"):
                ann.read_all()
            # One forbidden stream, and nothing of the append is written.
            with pytest.raises(PermissionDenied, match="may not write 'payments-2'"):
                ann.append_multi([("orders-3", E, -1), ("payments-2", E, -1)])
            for refused in (ann.status, ann.members, lambda: ann.add_user("eve", "x")):
                with pytest.raises(PermissionDenied):
                    refused()
        after = snapshot(admin)
        assert after[: len(before)] == before
        assert [stream for _, stream, _ in after[len(before) :]] == ["orders-2"]
        assert cluster.wait_converged(timeout=20)


def refused_as(call: Callable[[], Any]) -> tuple[str, str, str]:
    """Who was refused what on which name, by a call that must be refused."""
    with pytest.raises(PermissionDenied) as denied:
        call()
    return denied.value.user, denied.value.permission, denied.value.name


def test_a_tracking_record_is_written_with_write_and_asked_for_with_read_on_its_own_name(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as admin:
        admin.append("orders-1", E)
        streams = [("read", "orders-"), ("write", "orders-")]
        admin.add_role("orders-clerk", streams)
        admin.add_role("saga", [*streams, ("write", "$tracking-saga")])
        admin.add_user("ann", "pw", ["orders-clerk"])
        admin.add_user("sam", "pw", ["saga"])
        before = snapshot(admin)
        saga = Tracking("saga", 1)
        with signed_in(cluster, tmp_path, "ann", "pw") as ann:
            # Every stream allowed, the record not: nothing of the append is written.
            for refused in (
                lambda: ann.append("orders-2", E, tracking=saga),
                lambda: ann.append_multi([("orders-2", E, -1), ("orders-3", E, -1)], tracking=saga),
                lambda: ann.append_multi([], tracking=saga),
            ):
                assert refused_as(refused) == ("ann", "write", "$tracking-saga")
            for asked in (
                lambda: ann.max_tracking("saga"),
                lambda: ann.max_tracking("saga", min_position=1),
                lambda: ann.has_tracking("saga", 1),
            ):
                assert refused_as(asked) == ("ann", "read", "$tracking-saga")
            assert snapshot(admin) == before
            assert admin.max_tracking("saga") is None
            ann.append("orders-2", E)  # the same append without the record is hers to make
        with signed_in(cluster, tmp_path, "sam", "pw") as sam:
            written = sam.append("orders-3", E, tracking=saga)
            sam.append_multi([], tracking=Tracking("saga", 5))
            other = Tracking("other", 1)
            assert refused_as(lambda: sam.append("orders-4", E, tracking=other)) == (
                "sam",
                "write",
                "$tracking-other",
            )
            # Writing a record is not reading it.
            assert refused_as(lambda: sam.max_tracking("saga")) == ("sam", "read", "$tracking-saga")
            admin.grant_permission("saga", "read", "$tracking-saga")
            assert sam.max_tracking("saga") == 5
            assert sam.max_tracking("saga", min_position=written.last_position) == 5
            assert sam.has_tracking("saga", 5) and not sam.has_tracking("saga", 6)
            assert refused_as(lambda: sam.has_tracking("other", 1)) == (
                "sam",
                "read",
                "$tracking-other",
            )
        after = snapshot(admin)
        assert after[: len(before)] == before
        assert [stream for _, stream, _ in after[len(before) :]] == ["orders-2", "orders-3"]
        assert (admin.max_tracking("saga"), admin.max_tracking("other")) == (5, None)


def test_the_writer_role_writes_every_tracking_record_and_the_reader_reads_them(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as admin:
        admin.add_user("wes", "pw", ["writer"])
        admin.add_user("rea", "pw", ["reader"])
        admin.add_user("ops", "pw", ["operator"])
        with signed_in(cluster, tmp_path, "wes", "pw") as wes:
            wes.append("orders-1", E, tracking=Tracking("billing", 1))
            wes.append_multi([], tracking=Tracking("shipping", 4))
            assert (wes.max_tracking("billing"), wes.max_tracking("shipping")) == (1, 4)
            assert wes.has_tracking("shipping", 4)
        before = snapshot(admin)
        with signed_in(cluster, tmp_path, "rea", "pw") as rea:
            assert (rea.max_tracking("billing"), rea.max_tracking("shipping")) == (1, 4)
            assert rea.has_tracking("billing", 1) and not rea.has_tracking("billing", 2)
            billing = Tracking("billing", 2)
            assert refused_as(lambda: rea.append("orders-1", E, tracking=billing)) == (
                "rea",
                "write",
                "orders-1",
            )
            assert refused_as(lambda: rea.append_multi([], tracking=billing)) == (
                "rea",
                "write",
                "$tracking-billing",
            )
        with signed_in(cluster, tmp_path, "ops", "pw") as ops:
            assert refused_as(lambda: ops.max_tracking("billing")) == (
                "ops",
                "read",
                "$tracking-billing",
            )
            assert refused_as(lambda: ops.append_multi([], tracking=Tracking("billing", 2))) == (
                "ops",
                "write",
                "$tracking-billing",
            )
        assert snapshot(admin) == before
        assert (admin.max_tracking("billing"), admin.max_tracking("shipping")) == (1, 4)


def calls_of_every_kind(client: Client) -> dict[str, Callable[[], Any]]:
    return {
        "append": lambda: client.append("s", E),
        "append_multi": lambda: client.append_multi([("s", E, -1), ("t", E, -1)]),
        "read_stream": lambda: client.read_stream("s"),
        "read_stream_backwards": lambda: client.read_stream_backwards("s"),
        "read_all": lambda: client.read_all(),
        "subscribe": lambda: next(iter(client.subscribe())),
        "head": client.head,
        "acquire_lease": lambda: client.acquire_lease("p", "me", 5),
        "release_lease": lambda: client.release_lease("p", "me", 1),
        "status": client.status,
        "members": client.members,
        "add_member": lambda: client.add_member(9, "127.0.0.1:1"),
        "remove_member": lambda: client.remove_member(3),
        "access": client.access,
        "add_user": lambda: client.add_user("eve", "pw"),
        "add_role": lambda: client.add_role("r"),
        "grant_role": lambda: client.grant_role("nobody", "admin"),
    }


def test_a_user_without_roles_is_refused_every_call_but_saying_who_it_is(tmp_path: Path) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as admin:
        admin.append("s", E)
        admin.add_user("nobody", "pw")
        before = snapshot(admin)
        with signed_in(cluster, tmp_path, "nobody", "pw") as nobody:
            assert nobody.whoami() == ("nobody", ())
            assert nobody.leases() == []  # only the leases one may take are listed
            for name, call in calls_of_every_kind(nobody).items():
                with pytest.raises(PermissionDenied):
                    call()
                    pytest.fail(f"{name} was allowed")
        assert snapshot(admin) == before
        assert [m.id for m in admin.members()] == [1, 2, 3]
        assert [u.name for u in admin.access().users] == ["admin", "nobody"]


def test_a_user_removed_or_a_role_revoked_is_refused_on_the_next_request(tmp_path: Path) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as admin:
        admin.append("s", E)
        admin.add_user("ann", "pw", ["writer"])
        admin.add_user("bob", "pw", ["reader"])
        with (
            signed_in(cluster, tmp_path, "ann", "pw") as ann,
            signed_in(cluster, tmp_path, "bob", "pw") as bob,
        ):
            ann.append("s", E)
            assert len(bob.read_stream("s")) == 2
            admin.revoke_role("ann", "writer")
            with pytest.raises(PermissionDenied):
                ann.append("s", E)
            admin.remove_user("bob")
            with pytest.raises(AuthenticationFailed, match="'bob' was removed"):
                bob.read_stream("s")
            admin.grant_role("ann", "reader")
            assert len(ann.read_stream("s")) == 2
            live = ann.subscribe(from_position=1)
            assert [next(live).position, next(live).position] == [1, 2]
            admin.revoke_role("ann", "reader")
            admin.append("s", E)  # the next batch is not sent: the subscription is refused
            with pytest.raises(PermissionDenied, match="may not read 'the whole log'"):
                next(live)
            live.close()
            admin.grant_role("ann", "reader")
            admin.set_password("ann", "new")
            with pytest.raises(AuthenticationFailed, match="password of user 'ann' changed"):
                ann.read_stream("s")
        with signed_in(cluster, tmp_path, "ann", "new") as ann:
            assert len(ann.read_stream("s")) == 3


def test_a_wrong_password_or_unknown_user_fails_at_once_and_is_slowed_per_source(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as admin:
        admin.add_user("ann", "right", ["reader"])
        before = snapshot(admin)
        for user, password in (("ann", "wrong"), ("nobody", "right"), ("ann", "")):
            with (
                signed_in(cluster, tmp_path, user, password) as client,
                pytest.raises(AuthenticationFailed, match=r"^wrong user name or password$"),
            ):
                client.read_stream("s")
        with (
            Client(cluster.addresses, timeout=60, tls=ca_only(tmp_path)) as anonymous,
            pytest.raises(AuthenticationFailed, match="signs clients in"),
        ):
            anonymous.status()
        # Each node counts the failures from this address and makes the next attempt wait.
        failures = [
            json.loads(line)
            for node in cluster.nodes.values()
            for line in node.log_path.read_text().splitlines()
            if '"sign_in_failed"' in line
        ]
        assert max(f["failures"] for f in failures) >= 3
        assert max(f["next_delay"] for f in failures) > 0
        assert not any("right" in line or "wrong" in line for line in map(str, failures))
        with signed_in(cluster, tmp_path, "ann", "right") as ann:  # after the wait
            assert ann.read_all() == admin.read_all()
        assert snapshot(admin) == before


def test_users_and_roles_survive_a_restart_and_the_last_admin_stays(tmp_path: Path) -> None:
    with local_cluster(tmp_path, tls=True) as cluster:
        with cluster.client(timeout=30) as admin:
            admin.add_role("auditor", [("read", "audit-")])
            admin.add_user("ann", "pw", ["auditor", "writer"])
            for refused in (
                lambda: admin.remove_user("admin"),
                lambda: admin.revoke_role("admin", "admin"),
            ):
                with pytest.raises(AccessChangeRefused, match="at least one admin") as caught:
                    refused()
                assert caught.value.reason == "last_admin"
            with pytest.raises(AccessChangeRefused) as caught:
                admin.grant_permission("writer", "status")
            assert caught.value.reason == "builtin_role"
            with pytest.raises(AccessChangeRefused) as caught:
                admin.add_user("ann", "again")
            assert caught.value.reason == "user_exists"
        for node in cluster.nodes.values():
            node.kill()
        for node in cluster.nodes.values():
            node.start()
        with signed_in(cluster, tmp_path, "ann", "pw") as ann:
            assert [r.name for r in ann.whoami()[1]] == ["auditor", "writer"]
            ann.append("audit-1", E)
        for node in cluster.nodes.values():  # each node signs ann in by itself
            with signed_in_at(node.address, tmp_path, "ann", "pw") as ann:
                assert ann.whoami()[0] == "ann"


def signed_in_at(address: str, tmp: Path, user: str, password: str) -> Client:
    return Client([address], timeout=30, tls=ca_only(tmp), credentials=(user, password))


def test_the_first_admin_signs_in_with_the_password_file_of_the_cluster_s_creation(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "admin-password"
    secret.write_text("first secret\n")
    with local_cluster(
        tmp_path, tls=True, extra_args=("--admin-password-file", str(secret))
    ) as cluster:
        with signed_in(cluster, tmp_path, "admin", "first secret") as admin:
            admin.add_user("ann", "pw", ["reader"])
            users = {u.name: u for u in admin.access().users}
            assert users["admin"].password and users["admin"].roles == ("admin",)
        with cluster.client(timeout=30) as by_certificate:  # the admin certificate too
            by_certificate.set_password("admin", "second secret")
        with (
            signed_in(cluster, tmp_path, "admin", "first secret") as stale,
            pytest.raises(AuthenticationFailed),
        ):
            stale.status()
        with signed_in(cluster, tmp_path, "admin", "second secret") as admin:
            assert admin.status().role in ("leader", "follower")


def test_a_projection_worker_runs_as_a_user_with_read_and_lease_only(tmp_path: Path) -> None:
    from tests.projections.harness import WorkerProcess, processes
    from tests.projections.sample import deposits, sqlite_model

    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as admin:
        for n in range(3):
            admin.append(f"acct-{n}", deposits(10, amount=n))
        admin.add_role("projector", [("read", ""), ("lease", "projection:")])
        admin.add_user("worker", "worker pw", ["projector"])
        (tmp_path / "worker.pw").write_text("worker pw\n")
        target = tmp_path / "totals.db"
        tls = tmp_path / "tls"
        with processes() as started:
            process = WorkerProcess(
                [
                    "--cluster", cluster.addresses,
                    "tests.projections.sample:Totals",
                    "--target", str(target),
                    "--tls-ca", str(tls / "ca.pem"),
                    "--user", "worker",
                    "--password-file", str(tmp_path / "worker.pw"),
                    "--report-every", "1",
                ],
                tmp_path / "worker.log",
            )  # fmt: skip
            started.append(process.start())
            last = admin.read_all()[-1].position

            def caught_up() -> bool:
                assert process.running, process.tail()
                return target.exists() and sqlite_model(target).checkpoint == last

            wait_for(caught_up, 30, "the worker to catch up as user 'worker'")
        with signed_in(cluster, tmp_path, "worker", "worker pw") as worker:
            assert [g.name for g in worker.leases()] == ["projection:totals"]
            with pytest.raises(PermissionDenied, match="may not lease 'other'"):
                worker.acquire_lease("other", "me", 5)
            with pytest.raises(PermissionDenied):
                worker.append("acct-0", E)


def test_a_user_who_reads_a_category_reads_the_log_through_a_filter_of_it(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as admin:
        admin.append("orders-1", E)
        admin.append("payments-1", E)
        admin.append("orders-2", [NewEvent("Shipped", b"y")])
        admin.add_role("orders-reader", [("read", "orders-")])
        admin.add_user("ann", "ann's secret", ["orders-reader"])
        with signed_in(cluster, tmp_path, "ann", "ann's secret") as ann:
            orders = EventFilter(streams=("orders-",))
            assert [e.stream for e in ann.read_all(filter=orders)] == ["orders-1", "orders-2"]
            page = ann.read_page(filter=EventFilter(streams=("orders-2",), types=("Shipped",)))
            assert [e.data for e in page.events] == [b"y"]
            subscription = ann.subscribe(1, filter=orders)
            assert next(subscription).stream == "orders-1"
            subscription.close()
            wider = EventFilter(streams=("orders-", "payments-"))
            assert refused_as(lambda: ann.read_all(filter=wider)) == ("ann", "read", "payments-")
            assert refused_as(lambda: ann.read_page(filter=EventFilter(streams=("o",)))) == (
                "ann",
                "read",
                "o",
            )
            for everything in (None, EventFilter(types=("Shipped",))):
                assert refused_as(lambda f=everything: ann.read_all(filter=f)) == (  # type: ignore[misc]
                    "ann",
                    "read",
                    "the whole log",
                )
            refused = ann.subscribe(1, filter=wider)
            with pytest.raises(PermissionDenied, match="may not read 'payments-'"):
                next(refused)
            refused.close()
            assert ann.head() == 3, "she sees positions anyway"
        admin.add_role("orders-writer", [("write", "orders-")])
        admin.add_user("wes", "wes's secret", ["orders-writer"])
        with signed_in(cluster, tmp_path, "wes", "wes's secret") as wes:
            assert refused_as(wes.head) == ("wes", "read", "the whole log"), "reads nothing"
