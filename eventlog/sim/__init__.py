"""A deterministic simulator: whole clusters of cores on a virtual clock, under seeded faults."""
