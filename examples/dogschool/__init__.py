"""The ``eventsourcing`` library's dog school, as its tutorial writes it, and the ``Counters``
process application of its system tutorial, which counts the tricks the school's dogs learn.
Nothing in it knows eventraft: ``PERSISTENCE_MODULE=eventraft.eventsourcing`` in the
environment puts both on a cluster (``python -m examples.dogschool counters`` runs the
counters in a process of their own, following the school)."""
