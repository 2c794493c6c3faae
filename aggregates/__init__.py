"""Domain layer: aggregates, events, repository, snapshots and upcasting."""
