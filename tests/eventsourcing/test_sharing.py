"""Several applications on one log: each reads its own notifications only, one embedded store
is shared by every factory of the process that names its directory (and closed by the last),
and a leader with its follower run as a ``System`` on it. Subscriptions are live and stop at
once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, event
from eventsourcing.persistence import StoredEvent
from eventsourcing.system import ProcessApplication, SingleThreadedRunner, System

import eventlog
from eventraft.eventsourcing import stores
from tests.eventsourcing import logs


class Dog(Aggregate):
    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        pass


class Registration(Aggregate):
    def __init__(self, dog_id: UUID) -> None:
        self.dog_id = dog_id


class DogSchool(Application[UUID]):
    def register(self, name: str) -> UUID:
        dog = Dog(name)
        self.save(dog)
        return dog.id


class Kennel(Application[UUID]):
    pass


class Registrations(ProcessApplication[UUID]):
    def policy(
        self, domain_event: DomainEventProtocol[Any], processing_event: ProcessingEvent[Any]
    ) -> None:
        if isinstance(domain_event, Dog.Registered):
            processing_event.collect_events(Registration(domain_event.originator_id))


class TestOneLog(logs.Embedded):
    def app(self, cls: type[Application[UUID]]) -> Application[UUID]:
        app = cls(env={"PERSISTENCE_MODULE": logs.MODULE, **self.log_env})
        self.addCleanup(app.close)
        return app

    def test_each_application_reads_its_own_notifications(self) -> None:
        school, kennel = self.app(DogSchool), self.app(Kennel)
        assert isinstance(school, DogSchool)
        fido = school.register("Fido")
        kennel.save(Aggregate())
        dog = school.repository.get(fido)
        dog.add_trick("roll over")
        school.save(dog)

        mine = school.recorder.select_notifications(None, 10)
        self.assertEqual([n.id for n in mine], [1, 3])  # log positions
        self.assertEqual({n.originator_id for n in mine}, {fido})
        self.assertEqual([n.id for n in kennel.recorder.select_notifications(None, 10)], [2])
        self.assertEqual([n.id for n in school.notification_log["1,10"].items], [1, 3])
        tricks = school.recorder.select_notifications(1, 10, topics=[mine[1].topic])
        self.assertEqual([n.id for n in tricks], [3])
        self.assertEqual(school.recorder.select_notifications(1, 10, stop=2), mine[:1])
        self.assertEqual(school.recorder.max_notification_id(), 3)  # the log's head

        with kennel.recorder.subscribe(gt=None) as subscription:
            self.assertEqual(next(subscription).id, 2)
            school.register("Rex")  # position 4: not the kennel's
            kennel.save(Aggregate())
            self.assertEqual(next(subscription).id, 5)

    def test_one_store_per_directory_closed_by_the_last(self) -> None:
        path = Path(self.log_env["EVENTRAFT_PATH"])
        first = self.factory("First")
        second = self.factory("Second", EVENTRAFT_PATH=str(path / ".." / path.name))
        self.assertNotIn(path.resolve(), stores.shared_paths())  # opened on first use
        self.assertIs(first.log.store, second.log.store)
        self.assertEqual(stores.shared_paths()[path.resolve()], 2)
        recorder = second.application_recorder()
        first.close()
        first.close()  # once is enough
        self.assertEqual(stores.shared_paths()[path.resolve()], 1)
        recorder.insert_events([StoredEvent(uuid4(), 1, "topic", b"{}")])
        second.close()
        self.assertNotIn(path.resolve(), stores.shared_paths())
        with eventlog.open_embedded(path) as store:  # given back: this process may open it
            self.assertEqual(store.head(), 1)

    def test_a_leader_and_its_follower_as_a_system(self) -> None:
        system = System(pipes=[[DogSchool, Registrations]])
        runner = SingleThreadedRunner(
            system, env={"PERSISTENCE_MODULE": logs.MODULE, **self.log_env}
        )
        runner.start()
        try:
            school, registrations = runner.get(DogSchool), runner.get(Registrations)
            fido, rex = school.register("Fido"), school.register("Rex")
            path = Path(self.log_env["EVENTRAFT_PATH"]).resolve()
            self.assertEqual(stores.shared_paths()[path], 2)  # two factories, one store
            self.assertEqual(registrations.recorder.max_tracking_id("DogSchool"), 3)
            made = registrations.recorder.select_notifications(None, 10)
            self.assertEqual([n.id for n in made], [2, 4])
            dogs = [registrations.repository.get(n.originator_id).dog_id for n in made]
            self.assertEqual(dogs, [fido, rex])
            self.assertEqual([n.id for n in school.recorder.select_notifications(None, 10)], [1, 3])
        finally:
            runner.stop()
        self.assertNotIn(path, stores.shared_paths())  # and what follow() made opened none


class TestSubscription(logs.Embedded):
    def test_live_and_stopped_at_once_from_another_thread(self) -> None:
        factory = self.factory()
        recorder = factory.application_recorder()
        writer = self.factory().application_recorder()  # another factory, same store
        with recorder.subscribe(gt=None) as subscription:
            originator_id = uuid4()
            timer = threading.Timer(
                0.05, writer.insert_events, [[StoredEvent(originator_id, 1, "t", b"{}")]]
            )
            timer.start()
            self.assertEqual(next(subscription).originator_id, originator_id)
            timer.join()
            threading.Timer(0.05, subscription.stop).start()
            started = time.monotonic()
            self.assertEqual(list(subscription), [])
            self.assertLess(time.monotonic() - started, 1.0)
