"""The settings: what is missing, malformed or contradictory is refused at once, naming the
setting (the application's prefixed key too), never showing a password."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import InfrastructureFactoryError
from eventsourcing.utils import Environment

from eventraft.certs import create_tls_dir
from eventraft.eventsourcing import settings
from eventraft.eventsourcing.settings import SettingsError, read_settings

SECRET = "correct horse battery staple"


def env(name: str = "DogSchool", **values: str) -> Environment:
    return Environment(name, values)


def refused(environment: Environment) -> str:
    with pytest.raises(SettingsError) as raised:
        read_settings(environment)
    return str(raised.value)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("tls")
    create_tls_dir(directory, [1], clients=["alice"])
    return {
        "EVENTRAFT_TLS_CA": str(directory / "ca.pem"),
        "EVENTRAFT_TLS_CERT": str(directory / "alice.pem"),
        "EVENTRAFT_TLS_KEY": str(directory / "alice.key"),
    }


@pytest.fixture
def password_file(tmp_path: Path) -> str:
    path = tmp_path / "password"
    path.write_text(SECRET + "\n")
    return str(path)


def test_a_settings_error_is_the_librarys_and_an_os_error() -> None:
    assert issubclass(SettingsError, InfrastructureFactoryError)
    assert issubclass(SettingsError, OSError)  # as the SQLite and PostgreSQL factories raise


def test_no_log_named() -> None:
    message = refused(env())
    for key in ("DOGSCHOOL_EVENTRAFT_CLUSTER", "EVENTRAFT_CLUSTER", "EVENTRAFT_PATH"):
        assert key in message


def test_a_cluster_and_a_path_contradict(tmp_path: Path) -> None:
    message = refused(env(EVENTRAFT_CLUSTER="127.0.0.1:7001", EVENTRAFT_PATH=str(tmp_path)))
    assert "EVENTRAFT_CLUSTER" in message and "EVENTRAFT_PATH" in message


def test_the_applications_own_keys_come_first(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    found = read_settings(env(DOGSCHOOL_EVENTRAFT_PATH=str(mine), EVENTRAFT_PATH=str(other)))
    assert found.target == settings.Embedded(path=mine.resolve())
    assert found.category == "DogSchool"


def test_the_category_defaults_to_the_name_and_can_be_set(tmp_path: Path) -> None:
    found = read_settings(env(EVENTRAFT_PATH=str(tmp_path), EVENTRAFT_CATEGORY="Kennel"))
    assert found.category == "Kennel"


@pytest.mark.parametrize("category", ["dog-school", "dog:school", "$dogs", "dog school", "x" * 129])
def test_a_category_that_cannot_name_streams(tmp_path: Path, category: str) -> None:
    message = refused(env(EVENTRAFT_PATH=str(tmp_path), EVENTRAFT_CATEGORY=category))
    assert "EVENTRAFT_CATEGORY" in message and "cannot be a category" in message


def test_an_application_name_that_cannot_be_a_category(tmp_path: Path) -> None:
    message = refused(env("dog-school", EVENTRAFT_PATH=str(tmp_path)))
    assert "'dog-school'" in message and "DOG-SCHOOL_EVENTRAFT_CATEGORY" in message


def test_no_name_and_no_category(tmp_path: Path) -> None:
    assert "it is empty" in refused(env("", EVENTRAFT_PATH=str(tmp_path)))


def test_a_cluster_is_secure_by_default() -> None:
    message = refused(env(EVENTRAFT_CLUSTER="127.0.0.1:7001"))
    assert "TLS" in message and "EVENTRAFT_TLS_CA" in message and "EVENTRAFT_INSECURE" in message


def test_insecure_when_said() -> None:
    found = read_settings(env(EVENTRAFT_CLUSTER="127.0.0.1:7001", EVENTRAFT_INSECURE="y"))
    assert isinstance(found.target, settings.Cluster)
    assert found.target.tls is None and found.target.credentials is None
    assert found.target.addresses == ("127.0.0.1:7001",)
    assert found.target.timeout == settings.DEFAULT_TIMEOUT


def test_insecure_contradicts_tls(tls_files: dict[str, str]) -> None:
    message = refused(env(EVENTRAFT_CLUSTER="h:1", EVENTRAFT_INSECURE="yes", **tls_files))
    assert "EVENTRAFT_INSECURE" in message and "EVENTRAFT_TLS_CA" in message


def test_insecure_contradicts_signing_in(password_file: str) -> None:
    message = refused(
        env(
            EVENTRAFT_CLUSTER="h:1",
            EVENTRAFT_INSECURE="y",
            EVENTRAFT_USER="alice",
            EVENTRAFT_PASSWORD_FILE=password_file,
        )
    )
    assert "EVENTRAFT_USER" in message and SECRET not in message


def test_insecure_takes_yes_or_no() -> None:
    assert "EVENTRAFT_INSECURE" in refused(env(EVENTRAFT_CLUSTER="h:1", EVENTRAFT_INSECURE="maybe"))


def test_tls_and_sign_in(tls_files: dict[str, str], password_file: str) -> None:
    found = read_settings(
        env(
            EVENTRAFT_CLUSTER="10.0.0.1:7001, 10.0.0.2:7001",
            EVENTRAFT_USER="alice",
            EVENTRAFT_PASSWORD_FILE=password_file,
            EVENTRAFT_TIMEOUT="2.5",
            EVENTRAFT_CLUSTER_ID="c-1",
            **tls_files,
        )
    )
    target = found.target
    assert isinstance(target, settings.Cluster)
    assert target.addresses == ("10.0.0.1:7001", "10.0.0.2:7001")
    assert target.tls is not None and target.tls.ca == tls_files["EVENTRAFT_TLS_CA"]
    assert target.tls.cert == tls_files["EVENTRAFT_TLS_CERT"]
    assert target.credentials == ("alice", SECRET)
    assert (target.timeout, target.cluster_id) == (2.5, "c-1")
    assert SECRET not in repr(found)  # no log line shows it


def test_a_password_is_never_taken_from_the_environment(tls_files: dict[str, str]) -> None:
    message = refused(
        env(EVENTRAFT_CLUSTER="h:1", EVENTRAFT_USER="alice", EVENTRAFT_PASSWORD=SECRET, **tls_files)
    )
    assert "EVENTRAFT_PASSWORD_FILE" in message and SECRET not in message


def test_a_user_goes_with_a_password_file(tls_files: dict[str, str], password_file: str) -> None:
    assert "EVENTRAFT_PASSWORD_FILE" in refused(
        env(EVENTRAFT_CLUSTER="h:1", EVENTRAFT_USER="alice", **tls_files)
    )
    assert "EVENTRAFT_USER" in refused(
        env(EVENTRAFT_CLUSTER="h:1", EVENTRAFT_PASSWORD_FILE=password_file, **tls_files)
    )


def test_a_missing_password_file_is_named(tls_files: dict[str, str], tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    message = refused(
        env(
            EVENTRAFT_CLUSTER="h:1",
            EVENTRAFT_USER="alice",
            EVENTRAFT_PASSWORD_FILE=missing,
            **tls_files,
        )
    )
    assert missing in message


def test_tls_files(tls_files: dict[str, str], tmp_path: Path) -> None:
    no_ca = {k: v for k, v in tls_files.items() if k != "EVENTRAFT_TLS_CA"}
    assert "EVENTRAFT_TLS_CA" in refused(env(EVENTRAFT_CLUSTER="h:1", **no_ca))
    no_key = {k: v for k, v in tls_files.items() if k != "EVENTRAFT_TLS_KEY"}
    assert "key" in refused(env(EVENTRAFT_CLUSTER="h:1", **no_key))
    missing = str(tmp_path / "missing-ca.pem")
    message = refused(env(EVENTRAFT_CLUSTER="h:1", EVENTRAFT_TLS_CA=missing))
    assert missing in message


def test_malformed_values() -> None:
    insecure = {"EVENTRAFT_INSECURE": "y"}
    assert "EVENTRAFT_CLUSTER" in refused(env(EVENTRAFT_CLUSTER="no-port", **insecure))
    for timeout in ("soon", "0", "-1", "inf"):
        message = refused(env(EVENTRAFT_CLUSTER="h:1", EVENTRAFT_TIMEOUT=timeout, **insecure))
        assert "EVENTRAFT_TIMEOUT" in message


def test_an_application_refuses_at_once() -> None:
    with pytest.raises(SettingsError, match="EVENTRAFT_TLS_CA"):
        Application(
            env={"PERSISTENCE_MODULE": "eventraft.eventsourcing", "EVENTRAFT_CLUSTER": "h:1"}
        )


def test_tls_files_that_do_not_load(tmp_path: Path) -> None:
    """Files there but not certificates: refused with the settings, naming no content."""
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(SettingsError, match="TLS files do not load"):
        Application(
            env={
                "PERSISTENCE_MODULE": "eventraft.eventsourcing",
                "EVENTRAFT_CLUSTER": "127.0.0.1:1",
                "EVENTRAFT_TLS_CA": str(tmp_path / "ca.pem"),
            }
        )
