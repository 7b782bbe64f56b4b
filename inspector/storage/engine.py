"""Opening the inspection database: paths, connection settings and migrations in one place.

Every engine the application uses comes from :func:`open_database`, so every
connection gets the same settings and every database is migrated to the
schema this version of Inspector expects before anything reads or writes it.

One station keeps a SQLite file; several stations of one plant can share a
PostgreSQL server through a URL (``postgresql+psycopg://user:password@host/db``)
and run the same code. What only SQLite has (pragmas, WAL, ``BEGIN IMMEDIATE``,
the online file backup) stays SQLite-only; PostgreSQL gets its equivalents.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# An unreachable server fails after this many seconds instead of the TCP timeout (minutes).
POSTGRES_CONNECT_TIMEOUT_S = 10
# Key of the PostgreSQL advisory lock held while migrating (any fixed 64-bit number;
# advisory locks are per database, so databases on one server never wait for each other).
POSTGRES_MIGRATION_LOCK_KEY = int.from_bytes(b"inspectr", "big")

# Alembic's ``context`` and ``op`` are process-wide proxies: two threads migrating at
# once (even different files) would run each other's DDL on the wrong connection.
_MIGRATION_LOCK = threading.Lock()


def default_database_path() -> Path:
    """Where a station keeps its records unless told otherwise (per-user data folder)."""
    return Path(platformdirs.user_data_dir("inspector", appauthor=False)) / "inspections.db"


def open_database(target: str | Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """Open (creating if needed) an inspection database and migrate it to the current schema.

    Args:
        target: A file path, or a SQLAlchemy URL: ``sqlite:///records.db``, or
            ``postgresql+psycopg://user:password@host:5432/inspector`` for a
            PostgreSQL database shared by several stations (plain
            ``postgresql://`` means the same driver, psycopg 3).
        busy_timeout_ms: How long a connection waits for another writer's
            lock before failing ("database is locked" on SQLite, PostgreSQL's
            ``lock_timeout``). The record writer retries after that, so this
            only bounds how long one attempt blocks.

    Returns:
        An engine whose SQLite connections use WAL journaling (readers never
        block the writer), ``synchronous=NORMAL``, the busy timeout and
        enforced foreign keys; on PostgreSQL, a pool that checks a connection
        before handing it out (a restarted server costs one retry, not an
        error) and the lock timeout.

    Raises:
        StorageError: the location cannot be created or written, the server
            cannot be reached or refuses the user, the database is not an
            Inspector database, or it was written by a newer Inspector.
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
            url = make_url(target)
        except ArgumentError as exc:
            msg = f"cannot read database URL {target!r}: {exc}; give a file path or a valid URL"
            raise StorageError(msg) from exc
        return _supported(url)
    path = Path(target).expanduser().absolute()
    return URL.create("sqlite", database=str(path))


def _supported(url: URL) -> URL:
    """Refuse backends the schema is not tested on; plain ``postgresql`` means psycopg 3."""
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        msg = (
            f"cannot store records in {backend} ({url.render_as_string(hide_password=True)}); "
            "use a SQLite file or a postgresql+psycopg://user:password@host/database URL"
        )
        raise StorageError(msg)
    if url.drivername == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


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
    elif url.get_backend_name() == "postgresql":
        # A server restarted, or a firewall that dropped an idle connection, would
        # otherwise fail the next query of every pooled connection once.
        options = {"pool_pre_ping": True}
        if "connect_timeout" not in url.query:
            options["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(url, **options)
    except ImportError as exc:
        raise StorageError(_driver_missing(where, exc)) from exc
    except ArgumentError as exc:
        msg = f"cannot use database {where}: {exc}; check the URL or use a SQLite file"
        raise StorageError(msg) from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms)
    else:
        _configure_postgresql(engine, busy_timeout_ms)
    return engine


def _driver_missing(where: str, exc: ImportError) -> str:
    """What to install when the database driver cannot be imported.

    The line-side bundle ships psycopg without its own libpq (``installer/inspector.spec``):
    there the missing piece is the line PC's PostgreSQL client library, not a package.
    """
    reason = str(exc).splitlines()[-1]  # psycopg lists its attempts, pure Python's last
    install = (
        "(Debian/Ubuntu: apt-get install libpq5; Windows: the PostgreSQL client, with its "
        "bin folder on PATH) or use a SQLite file"
    )
    if "libpq library not found" in reason:
        return (
            f"cannot use database {where}: PostgreSQL's client library libpq is not "
            f"installed on this computer; install it {install}"
        )
    if "libpq" in reason:
        return (
            f"cannot use database {where}: PostgreSQL's client library libpq does not "
            f"load ({reason}); install or update it {install}"
        )
    return (
        f"cannot use database {where}: its driver is not installed ({exc}); for "
        "PostgreSQL use a postgresql+psycopg:// URL and install the driver with: "
        "pip install 'inspector[postgres]'"
    )


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


def _configure_postgresql(engine: Engine, busy_timeout_ms: int) -> None:
    """Give every connection the lock timeout, so a blocked writer reports and retries.

    Without it an insert waiting behind another session's table lock (an
    administrator's ``ALTER``, a long ``VACUUM FULL``) would hang silently.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(busy_timeout_ms)}")
        # Committed, or the pool's rollback on return would undo the setting.
        dbapi_connection.commit()


@contextmanager
def writing(connection: Connection) -> Iterator[Connection]:
    """A transaction on ``connection`` that holds SQLite's write lock from its first read.

    For transactions that read and then write. SQLite's default (deferred)
    transaction reads a snapshot first; when another writer (the line's record
    writer) commits before its first write, that snapshot cannot become a write
    and SQLite fails at once with "database is locked", which no busy timeout
    waits out. ``BEGIN IMMEDIATE`` waits for the lock instead (up to the busy
    timeout). PostgreSQL has no such failure; there it is a plain transaction.
    """
    if connection.dialect.name == "sqlite":
        connection.execution_options(sqlite_begin="IMMEDIATE")
    with connection.begin():
        yield connection


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A new connection's :func:`writing` transaction: how every write in storage begins,
    so a read added to it later cannot bring back the instant "database is locked"."""
    with engine.connect() as connection, writing(connection):
        yield connection


@contextmanager
def change_transaction(engine: Engine, change: str) -> Iterator[Connection]:
    """A :func:`write_transaction` for a person's change (a role, a deployment, a review).

    A database error (a lock given up, a full disk, a failed audit insert)
    becomes a :class:`StorageError` that says the change was not stored and
    why, for the window or the terminal to show, instead of a driver's
    traceback. The record writer keeps :func:`write_transaction`: it retries
    on the driver's own errors.
    """
    try:
        with write_transaction(engine) as connection:
            yield connection
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split())
        msg = f"{change} was not stored, nothing changed (the database said: {reason}); try again"
        raise StorageError(msg) from exc


def _alembic_config() -> Config:
    config = Config()
    # ConfigParser interpolates '%': escape it in case the install path contains one.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def _migrate(engine: Engine, where: str) -> None:
    """Upgrade to the newest revision in one transaction, refusing foreign databases.

    Several programs may open the same new database at once (stations of one
    plant starting together): each takes the database's write lock before
    reading the schema, so they migrate one after the other and only the first
    changes anything. SQLite's lock is ``BEGIN IMMEDIATE``; PostgreSQL's is a
    transaction-level advisory lock, waited for however long the first
    station's migration takes. Both databases run DDL inside the transaction,
    so a failed migration leaves the schema as it was.
    """
    config = _alembic_config()
    scripts = ScriptDirectory.from_config(config)
    try:
        with _MIGRATION_LOCK, engine.connect() as connection, writing(connection):
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
                connection.exec_driver_sql(
                    f"SELECT pg_advisory_xact_lock({POSTGRES_MIGRATION_LOCK_KEY})"
                )
            _check_database_is_ours(connection, scripts, where)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DBAPIError as exc:
        raise StorageError(_explain_database_error(exc, where, engine.dialect.name)) from exc


def _check_database_is_ours(connection: Connection, scripts: ScriptDirectory, where: str) -> None:
    tables = set(inspect(connection).get_table_names())
    if tables and "alembic_version" not in tables:
        msg = (
            f"{where} is not an Inspector database (it holds other tables: "
            f"{', '.join(sorted(tables))}); choose another file or database"
        )
        raise StorageError(msg)
    for revision in MigrationContext.configure(connection).get_current_heads():
        try:
            scripts.get_revision(revision)
        except CommandError as exc:
            msg = (
                f"database {where} was written by a newer version of Inspector (schema "
                f"revision {revision!r} is unknown to this one); update Inspector, or open "
                "another database"
            )
            raise StorageError(msg) from exc


def _explain_database_error(exc: DBAPIError, where: str, backend: str) -> str:
    """Turn a driver error into a sentence that says what to do about it."""
    reason = " ".join(str(exc.orig).split())  # psycopg's messages span lines
    lowered = reason.lower()
    if backend == "postgresql":
        return _explain_postgresql_error(reason, where)
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


def _explain_postgresql_error(reason: str, where: str) -> str:
    """The advice for what psycopg reports: wrong login, no database, no rights, no server."""
    lowered = reason.lower()
    if "password authentication failed" in lowered or (
        "role" in lowered and "not exist" in lowered
    ):
        advice = "check the user name and password in the URL"
    elif "database" in lowered and "does not exist" in lowered:
        advice = (
            "create the database first (createdb -O USER NAME on the server) or correct "
            "its name in the URL"
        )
    elif "permission denied" in lowered:
        advice = (
            "the user must be allowed to create tables in the database: make it the "
            "database's owner (ALTER DATABASE NAME OWNER TO USER)"
        )
    elif any(s in lowered for s in ("refused", "timeout", "translate host", "no route", "unreach")):
        advice = (
            "check the host and port in the URL, that the server is running, and that "
            "this station can reach it"
        )
    else:
        advice = "check the URL and the server's log"
    return f"cannot open PostgreSQL database {where} (PostgreSQL says: {reason}); {advice}"
