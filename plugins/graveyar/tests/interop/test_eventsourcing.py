"""The `eventsourcing` library's own recorder and infrastructure test cases, run against
`toolkit_graveyar.eventsourcing` talking to a real `graveyar serve` on LMDB and on PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests import application as es_app  # modules, so pytest does not collect their cases
from eventsourcing.tests import persistence as es_cases
from eventsourcing.utils import Environment

from toolkit_graveyar.client import GraveyarClient
from toolkit_graveyar.eventsourcing import (
    GraveyarAggregateRecorder,
    GraveyarApplicationRecorder,
    GraveyarFactory,
    GraveyarProcessRecorder,
    GraveyarTrackingRecorder,
)

pytestmark = pytest.mark.interop


class _Server:
    """Mixed into each test case: the address of the class's server and a fresh namespace per recorder."""

    __test__ = False  # only the per-backend subclasses below run
    address: ClassVar[str] = ""
    backend: ClassVar[str] = ""
    client: GraveyarClient

    def setUp(self) -> None:
        self.client = GraveyarClient(self.address)
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        self.client.close()

    def prefix(self) -> str:
        return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="class")
def graveyar_address(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, proc_server_class: Any, pg_server: Any
) -> Iterator[None]:
    """A `graveyar serve` for the test class, on the backend the class names (unittest classes take no params)."""
    tmp = tmp_path_factory.mktemp("es")
    assert request.cls is not None
    if request.cls.backend == "lmdb":
        args = ["--data-dir", str(tmp / "data"), "--bind", "127.0.0.1:0"]
    else:
        import psycopg

        pg = pg_server
        name = f"es_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        args = ["--backend", "postgres", "--dsn", str(pg.dsn_for(name)), "--bind", "127.0.0.1:0"]
    srv = proc_server_class(args, dict(os.environ), tmp / "server.log").start()
    request.cls.address = srv.address
    yield
    srv.kill()


class AggregateRecorder_(_Server, es_cases.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return GraveyarAggregateRecorder(self.client, self.prefix())


class ApplicationRecorder_(_Server, es_cases.ApplicationRecorderTestCase):
    def create_recorder(self) -> ApplicationRecorder:
        return GraveyarApplicationRecorder(self.client, self.prefix())

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        super().test_concurrent_no_conflicts()

    def test_concurrent_throughput(self) -> None:
        super().test_concurrent_throughput()

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TrackingRecorder_(_Server, es_cases.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return GraveyarTrackingRecorder(self.client, self.prefix())


class ProcessRecorder_(_Server, es_cases.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return GraveyarProcessRecorder(self.client, self.prefix())


class NonInterleavingNotificationIDs_(_Server, es_cases.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return GraveyarApplicationRecorder(self.client, self.prefix())


class _SubTrackingRecorder(GraveyarTrackingRecorder):
    pass


class InfrastructureFactory_(_Server, es_cases.InfrastructureFactoryTestCase[GraveyarFactory]):
    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = "toolkit_graveyar.eventsourcing"
        self.env[GraveyarFactory.SERVER] = self.address
        self.env[GraveyarFactory.PREFIX] = self.prefix()
        super().setUp()

    def expected_factory_class(self) -> type[GraveyarFactory]:
        return GraveyarFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return GraveyarAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return GraveyarApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return GraveyarTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return _SubTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return GraveyarProcessRecorder


class ExampleApplication_(_Server, es_app.ExampleApplicationTestCase):
    expected_factory_topic = "toolkit_graveyar.eventsourcing:GraveyarFactory"

    def setUp(self) -> None:
        super().setUp()
        self._env = pytest.MonkeyPatch()  # the application reads its persistence settings from os.environ
        self._env.setenv("PERSISTENCE_MODULE", "toolkit_graveyar.eventsourcing")
        self._env.setenv("GRAVEYAR_SERVER", self.address)
        self._env.setenv("GRAVEYAR_PREFIX", self.prefix())

    def tearDown(self) -> None:
        self._env.undo()
        super().tearDown()


# Every case above, once per backend: TestAggregateRecorderLmdb, TestAggregateRecorderPostgres, ...
for _case in (
    AggregateRecorder_,
    ApplicationRecorder_,
    TrackingRecorder_,
    ProcessRecorder_,
    NonInterleavingNotificationIDs_,
    InfrastructureFactory_,
    ExampleApplication_,
):
    for _backend in ("lmdb", "postgres"):
        _name = f"Test{_case.__name__.rstrip('_')}{_backend.capitalize()}"
        globals()[_name] = pytest.mark.usefixtures("graveyar_address")(
            type(_name, (_case,), {"backend": _backend, "__module__": __name__, "__test__": True})
        )
del _case, _backend, _name
