"""Persistence for the ``eventsourcing`` library (9.5) on eventraft:
``PERSISTENCE_MODULE=eventraft.eventsourcing``, with ``EVENTRAFT_CLUSTER=HOST:PORT,...`` (over
TLS: ``EVENTRAFT_TLS_CA``, or ``EVENTRAFT_INSECURE=y``) or ``EVENTRAFT_PATH=DIR`` (an embedded
store). ``settings`` lists every setting; ``naming`` says where the records go.

This module holds one infrastructure factory, ``Factory``, as the library's
``InfrastructureFactory.construct`` requires of a persistence module.
"""

from __future__ import annotations

from eventraft.eventsourcing.factory import Factory

__all__ = [
    "Factory",
]
