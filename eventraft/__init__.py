"""eventraft: the application on top of every layer: the ``eventraft`` command line, the demo,
the benchmark driver, local clusters and status tables. It may import anything of the
project; nothing imports it."""
