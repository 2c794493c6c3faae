"""A node's disk: one LMDB environment holding the Raft log, the hard state and the applied
state with its indexes (``storage.LmdbStorage`` is the whole of it to the rest of the node)."""
