"""``python -m examples.dogschool counters``: the ``Counters`` process application in this
process, following ``DogSchool`` through the log the environment names, until SIGTERM or
Ctrl-C. It pulls what is new every ``--every`` seconds, each notification processed with
its tracking record, so a kill -9 at any moment loses and repeats nothing."""

from __future__ import annotations

import signal
import threading

import click

from examples.dogschool.application import Counters, DogSchool


@click.group()
def main() -> None:
    """The dog school of the eventsourcing library's tutorial."""


@main.command()
@click.option(
    "--every",
    type=click.FloatRange(min=0.001),
    default=0.05,
    show_default=True,
    help="Seconds between pulls of the school's notification log.",
)
def counters(every: float) -> None:
    """Count the tricks the school's dogs learn, until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    school, counting = DogSchool(), Counters()
    counting.follow(school.name, school.notification_log)
    click.echo(f"following {school.name} from {counting.recorder.max_tracking_id(school.name)}")
    try:
        while not stop.is_set():
            counting.pull_and_process(school.name)
            stop.wait(every)
    finally:
        counting.close()
        school.close()


if __name__ == "__main__":
    main()
