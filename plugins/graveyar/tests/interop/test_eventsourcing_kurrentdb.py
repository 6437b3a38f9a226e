"""The `eventsourcing` package's own recorder, factory and application test cases, run through
`eventsourcing_kurrentdb` (the KurrentDB persistence module, unchanged, over kurrentdbclient) against a
real `graveyar serve` on LMDB and on PostgreSQL.

The module's own tests (GitHub, tag 1.2.2) subclass these same cases; what they leave out applies here too:
its factory raises NotImplementedError for tracking and process recorders (KurrentDB stores no tracking
records), so those two factory cases are excluded below, by name, with that reason.

`$all` is global in KurrentDB, and the cases read it from the start (e.g. "no notifications yet"), so every
test gets a fresh server: that is what running them against a fresh KurrentDB container means.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import eventsourcing.domain
import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    InfrastructureFactoryError,
    ProcessRecorder,
    StoredEvent,
    TrackingRecorder,
)
from eventsourcing.tests import application as es_app  # modules, so pytest does not collect their cases
from eventsourcing.tests import persistence as es_cases
from eventsourcing.utils import Environment
from eventsourcing_kurrentdb.factory import KurrentDBFactory
from eventsourcing_kurrentdb.recorders import KurrentDBAggregateRecorder, KurrentDBApplicationRecorder
from kurrentdbclient import KurrentDBClient

pytestmark = pytest.mark.interop

# Cases that cannot apply to eventsourcing_kurrentdb: {case name: reason}. Checked below to name real cases.
EXCLUDED: dict[str, str] = {
    "test_create_tracking_recorder": "KurrentDBFactory.tracking_recorder raises NotImplementedError "
    "(no tracking records in KurrentDB; upstream skips it too)",
    "test_create_process_recorder": "KurrentDBFactory.process_recorder raises NotImplementedError "
    "(upstream skips it too)",
    "test_insert_select": "asserts max_notification_id() is None on an empty store, but the recorder returns "
    "kurrentdbclient.get_commit_position(), which is 0 when $all has no events, on KurrentDB too "
    "(upstream replaces this case with its own)",
}


class _Server:
    """Mixed into each case: a kurrentdbclient on this test's server; aggregate versions start at 0."""

    __test__ = False  # only the per-backend subclasses below run
    address: ClassVar[str] = ""
    backend: ClassVar[str] = ""
    client: KurrentDBClient

    # eventsourcing_kurrentdb maps version 0 to "no stream" and version n to revision n (as upstream sets).
    INITIAL_VERSION = 0

    @property
    def uri(self) -> str:
        return f"kurrentdb://{self.address}?Tls=false"

    def setUp(self) -> None:
        self._initial = eventsourcing.domain.Aggregate.INITIAL_VERSION
        eventsourcing.domain.Aggregate.INITIAL_VERSION = 0
        self.client = KurrentDBClient(self.uri)
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        self.client.close()
        eventsourcing.domain.Aggregate.INITIAL_VERSION = self._initial


@pytest.fixture
def kurrentdb_server(
    request: pytest.FixtureRequest, tmp_path: Any, proc_server_class: Any, pg_server: Any
) -> Iterator[None]:
    """A fresh `graveyar serve` per test, on the backend the class names (unittest classes take no params)."""
    assert request.cls is not None
    if request.cls.backend == "lmdb":
        args = ["--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0"]
    else:
        import psycopg

        name = f"esk_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        args = ["--backend", "postgres", "--dsn", str(pg_server.dsn_for(name)), "--bind", "127.0.0.1:0"]
    srv = proc_server_class(args, dict(os.environ), tmp_path / "server.log").start()
    request.cls.address = srv.address
    yield
    srv.kill()


class AggregateRecorder_(_Server, es_cases.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return KurrentDBAggregateRecorder(client=self.client)


def _uuid_recorder(client: KurrentDBClient) -> KurrentDBApplicationRecorder:
    """An application recorder giving notifications UUID originator IDs, as these cases record and expect.

    `validate_uuids` is the recorder's own switch (off by default, for string IDs); upstream turns it on
    for the subscription case the same way.
    """
    recorder = KurrentDBApplicationRecorder(client=client)
    recorder.validate_uuids = True
    return recorder


class ApplicationRecorder_(_Server, es_cases.ApplicationRecorderTestCase):
    # Notification IDs are commit positions: increasing, not contiguous (as in KurrentDB).
    EXPECT_CONTIGUOUS_NOTIFICATION_IDS = False

    def create_recorder(self) -> ApplicationRecorder:
        return _uuid_recorder(self.client)

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        super().test_concurrent_no_conflicts()

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class NonInterleavingNotificationIDs_(_Server, es_cases.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return _uuid_recorder(self.client)


class _SubApplicationRecorder(KurrentDBApplicationRecorder):
    pass


class InfrastructureFactory_(_Server, es_cases.InfrastructureFactoryTestCase[KurrentDBFactory]):
    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = KurrentDBFactory.__module__
        self.env[KurrentDBFactory.KURRENTDB_URI] = self.uri
        super().setUp()

    def expected_factory_class(self) -> type[KurrentDBFactory]:
        return KurrentDBFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return KurrentDBAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return KurrentDBApplicationRecorder

    def application_recorder_subclass(self) -> type[ApplicationRecorder]:
        return _SubApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        raise NotImplementedError

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        raise NotImplementedError

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        raise NotImplementedError


class ExampleApplication_(_Server, es_app.ExampleApplicationTestCase):
    expected_factory_topic = "eventsourcing_kurrentdb.factory:KurrentDBFactory"

    def setUp(self) -> None:
        super().setUp()
        self._env = pytest.MonkeyPatch()  # the application reads its persistence settings from os.environ
        self._env.setenv("PERSISTENCE_MODULE", "eventsourcing_kurrentdb")
        self._env.setenv("KURRENTDB_URI", self.uri)

    def tearDown(self) -> None:
        self._env.undo()
        super().tearDown()


_CASES = (
    AggregateRecorder_,
    ApplicationRecorder_,
    NonInterleavingNotificationIDs_,
    InfrastructureFactory_,
    ExampleApplication_,
)


def _excluded(name: str, reason: str) -> Any:
    def test(self: Any) -> None:
        pytest.skip(f"excluded: {reason}")

    test.__name__ = name
    return test


# Every case above, once per backend: TestAggregateRecorderLmdb, TestAggregateRecorderPostgres, ...
for _case in _CASES:
    _skips = {n: _excluded(n, r) for n, r in EXCLUDED.items() if hasattr(_case, n)}
    for _backend in ("lmdb", "postgres"):
        _name = f"Test{_case.__name__.rstrip('_')}{_backend.capitalize()}"
        globals()[_name] = pytest.mark.usefixtures("kurrentdb_server")(
            type(_name, (_case,), {"backend": _backend, "__module__": __name__, "__test__": True, **_skips})
        )
assert all(any(hasattr(c, n) for c in _CASES) for n in EXCLUDED), "an exclusion names no case"
del _case, _backend, _name, _skips


# What eventsourcing_kurrentdb's own tests check beyond the generic cases, asserted here in our words.


def test_string_originator_ids_round_trip(client: KurrentDBClient) -> None:
    """Non-UUID aggregate ids are stream names; they come back unchanged in events and notifications."""
    recorder = KurrentDBApplicationRecorder(client=client)
    start = recorder.max_notification_id()
    originator_id = f"product-{uuid.uuid4()}"
    events = [StoredEvent(originator_id, v, f"topic{v}", f"state{v}".encode()) for v in range(3)]
    ids = recorder.insert_events(events)
    assert ids is not None
    assert len(set(ids)) == 1  # one append, one commit position (the module's choice)
    assert [(e.originator_version, e.topic, e.state) for e in recorder.select_events(originator_id)] == [
        (v, f"topic{v}", f"state{v}".encode()) for v in range(3)
    ]
    got = recorder.select_notifications(start, 10, inclusive_of_start=False)
    assert [(n.originator_id, n.originator_version) for n in got] == [(originator_id, v) for v in range(3)]
    assert recorder.max_notification_id() == got[-1].id


def test_snapshots_stay_out_of_notifications(client: KurrentDBClient) -> None:
    """Snapshots go to `snapshot-$ID` streams, are kept newest-first and never reach `$all` readers."""
    events = KurrentDBApplicationRecorder(client=client)
    snapshots = KurrentDBAggregateRecorder(client=client, for_snapshotting=True)
    start = events.max_notification_id()
    aggregate = str(uuid.uuid4())
    events.insert_events([StoredEvent(aggregate, 0, "bank.Opened", b"{}")])
    snapshots.insert_events([StoredEvent(aggregate, 5, "bank.Snapshot", b"{v5}")])
    snapshots.insert_events([StoredEvent(aggregate, 3, "bank.Snapshot", b"{v3}")])  # older: dropped
    assert [(s.originator_version, s.state) for s in snapshots.select_events(aggregate, desc=True, limit=1)] == [
        (5, b"{v5}")
    ]
    got = events.select_notifications(start, 10, inclusive_of_start=False)
    assert [n.topic for n in got] == ["bank.Opened"]
    assert events.max_notification_id() == got[0].id


def test_subscription_while_writing(client: KurrentDBClient) -> None:
    """A subscription started before a writer thread receives every notification once, in order."""
    recorder = KurrentDBApplicationRecorder(client=client)
    start = recorder.max_notification_id()
    total = 200

    def write() -> None:
        for _ in range(total):
            recorder.insert_events([StoredEvent(str(uuid.uuid4()), 0, "topic1", b"{}")])

    received = []
    with recorder.subscribe(gt=start) as subscription:
        writer = threading.Thread(target=write)
        writer.start()
        for notification in subscription:
            received.append(notification.id)
            if len(received) == total:
                break
        writer.join()
    assert received == sorted(set(received))
    assert len(received) == total
    assert received[-1] == recorder.max_notification_id()


def test_factory_without_uri_names_the_variable() -> None:
    with pytest.raises(InfrastructureFactoryError, match="KURRENTDB_URI"):
        KurrentDBFactory(Environment("NoUri", env={}))
