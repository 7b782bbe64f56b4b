"""Opening the inspection database: paths, SQLite settings and migrations in one place.

Every engine the application uses comes from :func:`open_database`, so every
connection gets the same SQLite pragmas and every database is migrated to the
schema this version of Inspector expects before anything reads or writes it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

from inspector.core.errors import StorageError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DEFAULT_BUSY_TIMEOUT_MS = 5000

# Alembic's ``context`` and ``op`` are process-wide proxies: two threads migrating at
# once (even different files) would run each other's DDL on the wrong connection.
_MIGRATION_LOCK = threading.Lock()


def default_database_path() -> Path:
    """Where a station keeps its records unless told otherwise (per-user data folder)."""
    return Path(platformdirs.user_data_dir("inspector", appauthor=False)) / "inspections.db"


def open_database(target: str | Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """Open (creating if needed) an inspection database and migrate it to the current schema.

    Args:
        target: A file path, or a SQLAlchemy URL such as ``sqlite:///records.db``.
        busy_timeout_ms: How long a SQLite connection waits for another writer's
            lock before failing with "database is locked". The record writer
            retries after that, so this only bounds how long one attempt blocks.

    Returns:
        An engine whose SQLite connections use WAL journaling (readers never
        block the writer), ``synchronous=NORMAL``, the busy timeout and
        enforced foreign keys.

    Raises:
        StorageError: the location cannot be created or written, the file is
            not an Inspector database, or it was written by a newer Inspector.
    """
    url = _to_url(target)
    where = _describe_location(url)
    if url.get_backend_name() == "sqlite" and not _is_memory(url):
        _create_parent_folder(Path(url.database or ""), where)
    engine = _create_engine(url, where, busy_timeout_ms)
    try:
        _migrate(engine, where)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _to_url(target: str | Path) -> URL:
    """Accept a URL (anything with ``://``) or a file path, relative to the working folder."""
    if isinstance(target, str) and "://" in target:
        try:
            return make_url(target)
        except ArgumentError as exc:
            msg = f"cannot read database URL {target!r}: {exc}; give a file path or a valid URL"
            raise StorageError(msg) from exc
    path = Path(target).expanduser().absolute()
    return URL.create("sqlite", database=str(path))


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _describe_location(url: URL) -> str:
    if url.get_backend_name() == "sqlite" and not _is_memory(url):
        return str(url.database)
    return url.render_as_string(hide_password=True)


def _create_parent_folder(path: Path, where: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = (
            f"cannot create the folder for database {where}: {exc.strerror or exc}; "
            "choose a location you can write to"
        )
        raise StorageError(msg) from exc


def _create_engine(url: URL, where: str, busy_timeout_ms: int) -> Engine:
    options: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite" and _is_memory(url):
        # One shared connection, or each pooled connection would see its own empty database.
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    try:
        engine = create_engine(url, **options)
    except (ArgumentError, ImportError) as exc:
        msg = f"cannot use database {where}: {exc}; install its driver or use a SQLite file"
        raise StorageError(msg) from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Set the pragmas on every new connection and let SQLAlchemy own transactions.

    pysqlite by default starts transactions only before DML and commits around
    DDL; taking over ``BEGIN`` makes migrations atomic and makes SQLAlchemy's
    transaction boundaries the real ones (the recipe in SQLAlchemy's SQLite docs).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Deferred by default; "IMMEDIATE" takes the write lock up front (see _migrate).
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _alembic_config() -> Config:
    config = Config()
    # ConfigParser interpolates '%': escape it in case the install path contains one.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def _migrate(engine: Engine, where: str) -> None:
    """Upgrade to the newest revision in one transaction, refusing foreign databases."""
    config = _alembic_config()
    scripts = ScriptDirectory.from_config(config)
    try:
        with _MIGRATION_LOCK, engine.connect() as connection:
            # Take the write lock before reading the schema: two programs creating the
            # same new database then run one after the other instead of one failing.
            connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                _check_database_is_ours(connection, scripts, where)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
    except DBAPIError as exc:
        raise StorageError(_explain_database_error(exc, where)) from exc


def _check_database_is_ours(connection: Connection, scripts: ScriptDirectory, where: str) -> None:
    tables = set(inspect(connection).get_table_names())
    if tables and "alembic_version" not in tables:
        msg = (
            f"{where} is not an Inspector database (it holds other tables: "
            f"{', '.join(sorted(tables))}); choose another file"
        )
        raise StorageError(msg)
    for revision in MigrationContext.configure(connection).get_current_heads():
        try:
            scripts.get_revision(revision)
        except CommandError as exc:
            msg = (
                f"database {where} was written by a newer version of Inspector (schema "
                f"revision {revision!r} is unknown to this one); update Inspector, or open "
                "another database file"
            )
            raise StorageError(msg) from exc


def _explain_database_error(exc: DBAPIError, where: str) -> str:
    """Turn a driver error into a sentence that says what to do about it."""
    reason = str(exc.orig)
    lowered = reason.lower()
    if "not a database" in lowered or "malformed" in lowered:
        return (
            f"{where} is not an Inspector database (SQLite says: {reason}); choose another "
            "file, or move this one away so that a new database can be created"
        )
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return (
            f"cannot open database {where} for writing (SQLite says: {reason}); "
            "choose a location you can write to"
        )
    if "locked" in lowered or "busy" in lowered:
        return (
            f"database {where} is locked by another program (SQLite says: {reason}); "
            "close other Inspector instances using it and try again"
        )
    return f"cannot open database {where}: {reason}; check the disk and the file"
