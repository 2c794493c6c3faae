"""The ``eventraft`` command for people: failures in one line, supervision, options, output."""
