"""``python -m eventraft``: the ``eventraft`` command."""

from eventraft.cli import main

main()
