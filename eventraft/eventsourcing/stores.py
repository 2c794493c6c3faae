"""The log a factory works on, opened as its settings say, and closed by whoever opened it.

A data directory has one owner, and an embedded store may be opened once per process, yet
several applications of one process (a ``System`` run by a ``SingleThreadedRunner``, a
leader and its follower) may name the same directory: they share one ``EmbeddedStore`` per
resolved path, counted, and the last factory to close closes it. A cluster client is the
factory's own. Subscriptions in this process that read a log are woken by every append made
through it here (``Log.appended``); appends of other processes they find by polling.
"""

from __future__ import annotations

import threading
from pathlib import Path

import attrs
from eventsourcing.persistence import InterfaceError

import eventlog
from eventlog import EventLog
from eventraft.eventsourcing.errors import persistence_errors
from eventraft.eventsourcing.settings import Cluster, Embedded, Settings

__all__ = [
    "Log",
    "shared_paths",
]


@attrs.define
class _Shared:
    store: eventlog.EmbeddedStore
    users: int
    """Factories that opened it and have not closed yet (>= 1 while listed)."""


_lock = threading.RLock()
"""Guards ``_embedded`` and ``_listeners``. Re-entrant, as is ``Log._opening``: the library's
``Application.__del__`` closes its factory whenever the garbage collector runs, in whatever
thread, which may be this one in the middle of opening a store or waking subscriptions here."""
_embedded: dict[Path, _Shared] = {}
_listeners: dict[str, set[threading.Event]] = {}


@attrs.define(eq=False)
class Log:
    """One factory's hold on a log, opened when a recorder first uses it: a factory made
    only for its mapper (as the library's ``Follower.follow`` makes one for each leader, and
    never closes) opens nothing. ``key`` is the same for every factory of this process on
    the same log; its subscriptions listen on it."""

    target: Embedded | Cluster
    key: str
    _store: EventLog | None = None
    _opening: threading.RLock = attrs.field(factory=threading.RLock)
    closed: bool = False

    @classmethod
    def of(cls, settings: Settings) -> Log:
        target = settings.target
        if isinstance(target, Embedded):
            return cls(target, f"embedded:{target.path}")
        return cls(target, "cluster:" + ",".join(sorted(target.addresses)))

    @property
    def store(self) -> EventLog:
        """The store (opened now if need be), while the factory has not closed it (then
        ``InterfaceError``, as the library's recorders raise on a closed database)."""
        store = self._store
        if store is None:
            with self._opening:
                if self._store is None and not self.closed:
                    self._store = _open(self.target)
                store = self._store
        if self.closed or store is None:
            raise InterfaceError("the eventraft factory of this recorder is closed")
        return store

    def appended(self) -> None:
        """Wake the subscriptions of this process that read this log."""
        with _lock:
            listeners = list(_listeners.get(self.key, ()))
        for event in listeners:
            event.set()

    def listen(self, event: threading.Event) -> None:
        with _lock:
            _listeners.setdefault(self.key, set()).add(event)

    def unlisten(self, event: threading.Event) -> None:
        with _lock:
            listening = _listeners.get(self.key)
            if listening is not None:
                listening.discard(event)
                if not listening:
                    del _listeners[self.key]

    def close(self) -> None:
        """Give the log back, if it was opened: close the client, or the shared store once
        nobody else holds it. Closing twice does nothing more."""
        with self._opening:
            if self.closed:
                return
            self.closed = True
            store, self._store = self._store, None
        if store is None:
            return
        if isinstance(self.target, Cluster):
            store.close()
            return
        with _lock:
            shared = _embedded[self.target.path]
            shared.users -= 1
            if shared.users:
                return
            del _embedded[self.target.path]
            shared.store.close()  # under the lock: a factory opening it meanwhile waits


def _open(target: Embedded | Cluster) -> EventLog:
    if isinstance(target, Cluster):
        return eventlog.Client(
            list(target.addresses),
            target.timeout,
            cluster_id=target.cluster_id,
            tls=target.tls,
            credentials=target.credentials,
            insecure=target.tls is None,  # said so: no CA exported for the commands applies
        )
    with _lock:
        shared = _embedded.get(target.path)
        if shared is None:
            with persistence_errors():  # held by another process: OperationalError
                store = eventlog.open_embedded(target.path)
            shared = _embedded[target.path] = _Shared(store, 0)
        shared.users += 1
        return shared.store


def shared_paths() -> dict[Path, int]:
    """The embedded stores open in this process, with how many factories hold each."""
    with _lock:
        return {path: shared.users for path, shared in _embedded.items()}
