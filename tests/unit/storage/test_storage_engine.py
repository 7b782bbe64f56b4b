"""Opening, migrating and refusing databases: real SQLite files, real failures.

PostgreSQL's own cases (advisory lock, login errors, migrations) are in test_postgres.py.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from inspector.core import StorageError
from inspector.storage.engine import MIGRATIONS_DIR, default_database_path, open_database
from inspector.storage.schema import Base


def _head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrated_schema_equals_metadata_and_is_at_head(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_heads() == (_head_revision(),)
        assert set(inspect(connection).get_table_names()) >= {"inspections", "defects"}


def test_open_creates_parent_folder_and_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "records.db"
    engine = open_database(path)
    engine.dispose()
    assert path.is_file()


def test_every_connection_gets_wal_and_the_pragmas(sqlite_engine: Engine) -> None:
    def pragmas() -> tuple[object, ...]:
        with sqlite_engine.connect() as connection:
            return tuple(
                connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            )

    seen: list[tuple[object, ...]] = []
    worker = threading.Thread(target=lambda: seen.append(pragmas()))
    worker.start()
    worker.join()
    # synchronous=NORMAL is 1.
    assert pragmas() == ("wal", 1, 5000, 1)
    assert seen == [("wal", 1, 5000, 1)]


def test_reopening_keeps_records_and_revision(db_path: Path) -> None:
    first = open_database(db_path)
    with first.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO inspections (captured_at, station, camera_id, part_id, verdict, "
            "threshold, model_version, rules_version, inference_ms, latency_ms) VALUES "
            "('2026-01-01 00:00:00.000000', 's', 'c', 1, 'accept', 0.5, 'm', 'r', 1, 2)"
        )
    first.dispose()
    second = open_database(str(db_path))
    with second.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM inspections").scalar() == 1
        assert MigrationContext.configure(connection).get_current_heads() == (_head_revision(),)
    second.dispose()


def test_url_targets_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "by_url.db"
    engine = open_database(f"sqlite:///{path}")
    engine.dispose()
    assert path.is_file()


def test_in_memory_url_is_one_database_for_all_threads() -> None:
    engine = open_database("sqlite://")
    tables: list[list[str]] = []
    worker = threading.Thread(target=lambda: tables.append(inspect(engine).get_table_names()))
    worker.start()
    worker.join()
    assert "inspections" in tables[0]
    engine.dispose()


def test_default_path_is_in_the_user_data_folder() -> None:
    path = default_database_path()
    assert path.name == "inspections.db"
    assert path.is_absolute()
    assert "inspector" in path.parent.as_posix().lower()


def test_garbage_file_is_not_an_inspector_database(tmp_path: Path) -> None:
    path = tmp_path / "photo.db"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(StorageError, match="is not an Inspector database"):
        open_database(path)
    assert path.stat().st_size == 4096  # left as it was


def test_someone_elses_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    with pytest.raises(StorageError, match="not an Inspector database.*customers"):
        open_database(path)
    with sqlite3.connect(path) as connection:
        names = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert "inspections" not in names


def test_database_from_a_newer_inspector_is_refused(db_path: Path) -> None:
    open_database(db_path).dispose()
    with sqlite3.connect(db_path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    with pytest.raises(StorageError, match="newer version of Inspector.*9999_from_the_future"):
        open_database(db_path)


@pytest.mark.parametrize("where", ["/proc/inspector-test/records.db", "/sys/records.db"])
def test_unwritable_system_locations_raise_storage_error(where: str) -> None:
    with pytest.raises(StorageError, match=where):
        open_database(where)


def test_parent_that_is_a_file_raises_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot create the folder"):
        open_database(blocker / "records.db")


def test_folder_given_as_database_raises_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open database"):
        open_database(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_raises_storage_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(StorageError, match="records.db"):
            open_database(folder / "records.db")
    finally:
        folder.chmod(0o755)


def test_bad_url_raises_storage_error() -> None:
    with pytest.raises(StorageError, match="database URL"):
        open_database("not a url://")


@pytest.mark.parametrize("url", ["mysql://u:secret@db/records", "oracle://u:secret@db/x"])
def test_unsupported_database_kinds_are_refused_without_showing_the_password(url: str) -> None:
    with pytest.raises(StorageError, match="use a SQLite file or a postgresql") as raised:
        open_database(url)
    assert "secret" not in str(raised.value)


# psycopg without its binary package (the line-side bundle), on a computer where
# ctypes finds no libpq (argv[1] empty) or a libpq that does not load (its path).
_WITHOUT_LIBPQ = """
import ctypes.util, sys
ctypes.util.find_library = lambda name: sys.argv[1] or None
from inspector.core import StorageError
from inspector.storage.engine import open_database
try:
    open_database("postgresql://inspector:secret@127.0.0.1:1/records")
except StorageError as exc:
    print(exc)
"""


@pytest.mark.parametrize("found", ["", "libpq.so.5"])
def test_a_postgresql_url_without_a_working_libpq_says_what_to_install(
    found: str, tmp_path: Path
) -> None:
    pytest.importorskip("psycopg", reason="needs the postgres extra")
    if found:
        found = str(tmp_path / found)
        Path(found).write_bytes(b"not a library")
    environment = {**os.environ, "PSYCOPG_IMPL": "python"}  # psycopg's pure-Python libpq wrapper
    run = [sys.executable, "-c", _WITHOUT_LIBPQ, found]
    result = subprocess.run(run, env=environment, capture_output=True, text=True, check=True)
    message = result.stdout
    expected = "libpq does not load" if found else "libpq is not installed on this computer"
    assert f"PostgreSQL's client library {expected}" in message
    assert "apt-get install libpq5" in message
    assert "Traceback" not in result.stderr and "secret" not in message


def test_two_programs_creating_the_same_database_at_once_both_succeed(db_path: Path) -> None:
    engines: list[Engine] = []
    failures: list[Exception] = []
    start = threading.Barrier(4)

    def open_it() -> None:
        start.wait()
        try:
            engines.append(open_database(db_path))
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    workers = [threading.Thread(target=open_it) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    with engines[0].connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (_head_revision(),)
    for engine in engines:
        engine.dispose()


def test_threads_opening_different_databases_at_once_each_get_a_full_schema(
    tmp_path: Path,
) -> None:
    paths = [tmp_path / f"station{i}.db" for i in range(4)]
    failures: list[Exception] = []
    start = threading.Barrier(len(paths))

    def open_it(path: Path) -> None:
        start.wait()
        try:
            open_database(path).dispose()
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    workers = [threading.Thread(target=open_it, args=(p,)) for p in paths]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    for path in paths:
        with sqlite3.connect(path) as connection:
            names = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
            version = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        assert {"inspections", "defects", "alembic_version"} <= names
        assert version == [(_head_revision(),)]


def test_tests_keep_their_default_database_out_of_the_users_data_folder() -> None:
    """tests/conftest.py points the per-user data folder at a throwaway one."""
    assert default_database_path().is_relative_to(os.environ["XDG_DATA_HOME"])
    assert not default_database_path().is_relative_to(Path.home() / ".local" / "share")
