"""The client side: ``AsyncClient`` and ``Client``. It speaks ``eventlog.protocol`` only and
never imports the server side (raft, state, store, node)."""

from __future__ import annotations

from eventlog.client.async_client import AsyncClient
from eventlog.client.sync_client import Client

__all__ = ["AsyncClient", "Client"]
