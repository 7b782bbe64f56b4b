"""Fixtures for storage tests: real databases, real core objects.

Tests that take ``engine`` (or ``database_url``) run twice: on a SQLite file in
``tmp_path`` and on PostgreSQL. The PostgreSQL run needs a server: set
``INSPECTOR_TEST_POSTGRES_URL`` to a URL whose user owns its database
(``installer/start-test-postgres.sh start DIR`` starts a throwaway one and prints
it; CI does this). Each test then gets a new schema of its own in that
database, dropped afterwards: as independent as a new database, and ten
times cheaper to make. Without the variable, or with the server unreachable,
the PostgreSQL runs are skipped and say why.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from inspector.core import Defect, Frame, Inspection, Verdict
from inspector.storage.engine import open_database

BASE_TIME = datetime(2026, 5, 9, 13, 45, 12, 345678, tzinfo=UTC)
POSTGRES_URL_VARIABLE = "INSPECTOR_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgres")

MakeInspection = Callable[..., Inspection]
WriteLock = Callable[[], AbstractContextManager[None]]
LineWriting = Callable[[], AbstractContextManager[None]]
CommitsMeanwhile = Callable[[Callable[[Connection], object]], AbstractContextManager[None]]


class PostgresServer:
    """The test server: makes a new, empty schema per test and drops it afterwards.

    A test's URL puts its schema first and alone on the ``search_path``, so
    everything Inspector creates or reads is in it; ``application_name`` is the
    schema's name too, which tells the test's connections apart from others.
    """

    def __init__(self, url: URL) -> None:
        self.url = url
        self._admin = create_engine(url, isolation_level="AUTOCOMMIT")

    def check(self) -> None:
        """Raise if the server cannot be reached with the URL's user and password."""
        with self._admin.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def create_schema(self) -> str:
        """A new empty schema; the URL (password included) whose connections use it."""
        name = f"inspector_test_{uuid.uuid4().hex[:16]}"
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        query = {"options": f"-csearch_path={name}", "application_name": name}
        return self.url.update_query_dict(query).render_as_string(hide_password=False)

    def drop_schema(self, url: str) -> None:
        """Drop a schema made by :meth:`create_schema`, ending connections a test left open."""
        name = make_url(url).query["application_name"]
        with self._admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": name},
            )
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')

    def dispose(self) -> None:
        self._admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The server named by ``INSPECTOR_TEST_POSTGRES_URL``, or a skip saying what is missing."""
    raw = os.environ.get(POSTGRES_URL_VARIABLE)
    if not raw:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_URL_VARIABLE} (start a server with "
            "installer/start-test-postgres.sh start DIR)"
        )
    url = make_url(raw)
    server = PostgresServer(url)
    try:
        server.check()
    except (SQLAlchemyError, ImportError) as exc:
        server.dispose()
        where = url.render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL server {where} unreachable: {' '.join(str(exc).split())[:300]}")
    yield server
    server.dispose()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a SQLite database lives (on PostgreSQL the images still go beside it)."""
    return tmp_path / "data" / "inspections.db"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``: every test that uses a database runs on both."""
    return request.param


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema, dropped after the test."""
    url = postgres_server.create_schema()
    yield url
    postgres_server.drop_schema(url)


@pytest.fixture
def database_url(backend: str, db_path: Path, request: pytest.FixtureRequest) -> str | Path:
    """What ``open_database`` is given: the SQLite file, or a new PostgreSQL schema."""
    if backend == "sqlite":
        return db_path
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str | Path) -> Iterator[Engine]:
    engine = open_database(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(db_path: Path) -> Iterator[Engine]:
    """For what only SQLite has (pragmas, WAL, the file itself)."""
    engine = open_database(db_path)
    yield engine
    engine.dispose()


@pytest.fixture
def write_lock(backend: str, database_url: str | Path) -> WriteLock:
    """Another program holding the write lock on ``inspections`` until the block ends.

    SQLite: an exclusive transaction on the file; PostgreSQL: a table lock that
    blocks inserts (readers still pass). Either way the record writer must wait,
    report and retry, and lose nothing.
    """

    @contextmanager
    def held() -> Iterator[None]:
        if backend == "sqlite":
            blocker = sqlite3.connect(database_url, isolation_level=None)
            try:
                blocker.execute("BEGIN EXCLUSIVE")
                yield
                blocker.execute("COMMIT")
            finally:
                blocker.close()
            return
        other = create_engine(str(database_url))
        try:
            with other.begin() as connection:
                connection.exec_driver_sql("LOCK TABLE inspections IN EXCLUSIVE MODE")
                yield
        finally:
            other.dispose()

    return held


@pytest.fixture
def make_inspection() -> MakeInspection:
    """Build an Inspection the way the pipeline would, with a small random image."""
    rng = np.random.default_rng(7)

    def make(
        part_id: int,
        verdict: Verdict = Verdict.ACCEPT,
        *,
        score: float = 0.25,
        defects: tuple[Defect, ...] = (),
        error: str | None = None,
        image: np.ndarray | None = None,
        seconds: float | None = None,
    ) -> Inspection:
        pixels = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8) if image is None else image
        captured_at = BASE_TIME + timedelta(seconds=part_id if seconds is None else seconds)
        frame = Frame(
            image=pixels,
            camera_id="cam0",
            part_id=part_id,
            timestamp=1000.0 + part_id,
            captured_at=captured_at,
            origin="test",
        )
        return Inspection(
            frame=frame,
            verdict=verdict,
            score=score,
            threshold=0.5,
            defects=defects,
            anomaly_map=None,
            model_version="padim-1.2.0",
            rules_version="rules-3",
            inference_ms=4.5,
            latency_ms=12.0,
            error=error,
        )

    return make


MakeDefect = Callable[..., Defect]


@pytest.fixture
def base_time() -> datetime:
    """Capture time of part 0; part ``i`` is captured ``i`` seconds later."""
    return BASE_TIME


@pytest.fixture
def make_defect() -> MakeDefect:
    """Build a defect with a contour, which storage must drop while keeping box and area."""

    def make(kind: str = "scratch", x: int = 3) -> Defect:
        contour = np.array([[x, 4], [x + 5, 4], [x + 5, 9]], dtype=np.int32)
        return Defect(kind=kind, confidence=0.875, box=(x, 4, 6, 6), area_px=21, contour=contour)

    return make


def another_writer(engine: Engine) -> CommitsMeanwhile:
    """Another program's write, ``write(connection)``, committed while the test's block
    runs, once the code under test has sent its first statement to ``engine``.

    The other writer holds its lock (SQLite: the database's write lock; PostgreSQL: the
    locks its write took) until the test's thread sends a statement (SQLite: its
    ``BEGIN``), and 0.2 s more, then commits. Code that reads and then writes must wait
    for it and read what it wrote: a value read before the lock is taken is stale by
    then, and on SQLite a deferred transaction's snapshot cannot become a write
    ("database is locked").
    """

    @contextmanager
    def meanwhile(write: Callable[[Connection], object]) -> Iterator[None]:
        locked, began = threading.Event(), threading.Event()
        tester = threading.get_ident()

        def on_statement(*_: object) -> None:
            if threading.get_ident() == tester:
                began.set()

        def other_writes() -> None:
            with engine.connect() as connection:
                if engine.dialect.name == "sqlite":
                    connection.execution_options(sqlite_begin="IMMEDIATE")
                with connection.begin():
                    write(connection)
                    locked.set()
                    began.wait(5)
                    time.sleep(0.2)  # the code under test is waiting for the lock by now

        event.listen(engine, "before_cursor_execute", on_statement)
        writer = threading.Thread(target=other_writes)
        writer.start()
        try:
            assert locked.wait(5), "the other writer never took the lock"
            yield
        finally:
            writer.join()
            event.remove(engine, "before_cursor_execute", on_statement)

    return meanwhile


@pytest.fixture
def commits_meanwhile(engine: Engine) -> CommitsMeanwhile:
    """:func:`another_writer` on the test's database (SQLite and PostgreSQL)."""
    return another_writer(engine)


@pytest.fixture
def line_writes_meanwhile(sqlite_engine: Engine) -> LineWriting:
    """A line's writer holding SQLite's write lock until the code under test sends its
    first statement, then committing (:func:`another_writer` with a scratch insert)."""
    with sqlite_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE line_scratch (x INTEGER)")
    meanwhile = another_writer(sqlite_engine)

    def writing() -> AbstractContextManager[None]:
        return meanwhile(
            lambda connection: connection.exec_driver_sql("INSERT INTO line_scratch VALUES (1)")
        )

    return writing
