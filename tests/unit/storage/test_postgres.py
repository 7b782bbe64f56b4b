"""What only PostgreSQL has: migrations there, stations starting together, login errors.

Needs ``INSPECTOR_TEST_POSTGRES_URL`` (see conftest.py); skipped with the reason otherwise.
The rest of the storage suite runs on PostgreSQL too, through the ``engine`` fixture.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BOOLEAN, TIMESTAMP, Engine, create_engine, inspect, make_url, text

from inspector.core import StorageError, Verdict
from inspector.storage.backup import backup_database
from inspector.storage.engine import MIGRATIONS_DIR, POSTGRES_MIGRATION_LOCK_KEY, open_database
from inspector.storage.repository import add_inspections, count_inspections, get_inspection
from inspector.storage.schema import Base
from tests.records import database_at, downgrade, new_record, plain_engine
from tests.unit.storage.conftest import PostgresServer


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _assert_schema_is_current(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_heads() == (_head(),)


def test_an_empty_database_is_migrated_to_head_with_postgresql_types(
    postgres_url: str,
) -> None:
    engine = open_database(postgres_url)
    _assert_schema_is_current(engine)
    schema = inspect(engine)
    columns = {c["name"]: c for c in schema.get_columns("inspections")}
    assert isinstance(columns["captured_at"]["type"], TIMESTAMP)
    assert columns["captured_at"]["type"].timezone
    assert "nextval" in str(columns["id"]["default"])  # SERIAL: the database numbers parts
    users = {c["name"]: c for c in schema.get_columns("users")}
    assert isinstance(users["active"]["type"], BOOLEAN)
    [new_id] = add_inspections(engine, [new_record(verdict=Verdict.REJECT, score=None)])
    stored = get_inspection(engine, new_id)
    assert stored is not None and stored.score is None and stored.captured_at.tzinfo is not None
    engine.dispose()


def test_downgrade_to_nothing_and_upgrade_again_round_trips(postgres_url: str) -> None:
    database_at(postgres_url, "0001")  # the first schema, with one record
    engine = open_database(postgres_url)
    _assert_schema_is_current(engine)
    assert get_inspection(engine, 1) is not None
    engine.dispose()

    downgrade(postgres_url, "0002")  # serials, users and the audit log go; records stay
    plain = plain_engine(postgres_url)
    assert set(inspect(plain).get_table_names()) == {
        "alembic_version",
        "inspections",
        "defects",
        "reviews",
    }
    with plain.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM inspections")).scalar() == 1
    plain.dispose()

    downgrade(postgres_url, "base")
    plain = plain_engine(postgres_url)
    assert inspect(plain).get_table_names() == ["alembic_version"]
    plain.dispose()

    engine = open_database(postgres_url)
    _assert_schema_is_current(engine)
    assert count_inspections(engine) == 0
    engine.dispose()


_OPEN = "import sys; from inspector.storage.engine import open_database; open_database(sys.argv[1])"


def test_stations_starting_at_once_migrate_once(postgres_url: str) -> None:
    # The test holds the migration lock, so that every station is provably waiting
    # for it at the same moment; then it lets go and all of them must succeed.
    holder = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with holder.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK_KEY})
        stations = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN, postgres_url],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < len(stations):
            assert time.monotonic() < deadline, f"only {waiting} stations waited for the lock"
            assert all(s.poll() is None for s in stations), "a station did not wait"
            time.sleep(0.1)
            waiting = lock.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
        lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": POSTGRES_MIGRATION_LOCK_KEY})
    holder.dispose()
    outputs = [s.communicate(timeout=60)[0].decode() for s in stations]
    assert [s.returncode for s in stations] == [0, 0], outputs
    engine = open_database(postgres_url)
    _assert_schema_is_current(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_every_connection_gets_the_lock_timeout(postgres_url: str) -> None:
    engine = open_database(postgres_url, busy_timeout_ms=1234)
    for _ in range(2):  # a connection returned to the pool (rolled back) keeps it
        with engine.connect() as connection:
            assert connection.execute(text("SHOW lock_timeout")).scalar() == "1234ms"
    engine.dispose()


def test_connections_the_server_dropped_are_replaced_without_an_error(
    postgres_url: str,
) -> None:
    engine = open_database(postgres_url)
    add_inspections(engine, [new_record()])
    killer = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with killer.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                "application_name = current_setting('application_name') "
                "AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    killer.dispose()
    assert killed >= 1  # the engine's pooled connection is gone
    assert count_inspections(engine) == 1
    engine.dispose()


def test_wrong_password_and_unknown_database_say_what_to_fix(
    postgres_server: PostgresServer,
) -> None:
    wrong = postgres_server.url.set(password="not-the-password")
    with pytest.raises(StorageError, match="check the user name and password") as raised:
        open_database(wrong.render_as_string(hide_password=False))
    assert "not-the-password" not in str(raised.value)
    missing = postgres_server.url.set(database="no_such_inspector_db")
    with pytest.raises(StorageError, match="create the database first"):
        open_database(missing.render_as_string(hide_password=False))


def test_unreachable_server_says_to_check_host_and_port() -> None:
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is the 'postgres' extra")
    with pytest.raises(StorageError, match="check the host and port") as raised:
        open_database("postgresql://station:secret@127.0.0.1:1/inspector")
    assert "secret" not in str(raised.value)
    assert "postgresql+psycopg://station:***@127.0.0.1:1/inspector" in str(raised.value)


def test_someone_elses_database_is_refused(postgres_url: str) -> None:
    other = plain_engine(postgres_url)
    with other.begin() as connection:
        connection.execute(text("CREATE TABLE customers (id integer PRIMARY KEY)"))
    other.dispose()
    with pytest.raises(StorageError, match="not an Inspector database.*customers"):
        open_database(postgres_url)


def test_file_backup_is_refused_with_the_postgresql_tool_named(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = open_database(postgres_url)
    with pytest.raises(StorageError, match="pg_dump") as raised:
        backup_database(engine, tmp_path / "copy.db")
    assert make_url(postgres_url).password not in str(raised.value)
    assert not (tmp_path / "copy.db").exists()
    engine.dispose()
