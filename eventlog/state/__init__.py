"""The deterministic state machine of the event store: what applying a committed entry does.

Pure over a ``StateView`` (LMDB on a node, ``MemoryState`` in the simulator and in tests):
no clock, no randomness, no disk; every change goes into a ``WriteSet`` the caller writes.
"""
