"""The node runtime around the Raft core: the Ready loop (``node``), the port that clients and
peers share (``server``), the peer transport, status, and the process entry (``process``)."""
