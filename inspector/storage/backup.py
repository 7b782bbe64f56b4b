"""Online backup of a live SQLite database (the line may keep writing meanwhile)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from inspector.core.errors import StorageError


def backup_database(
    engine: Engine,
    destination: str | Path,
    *,
    pages_per_step: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Copy the database to ``destination`` with SQLite's online backup API.

    The copy is a consistent snapshot even while the record writer commits: the
    backup API restarts a step when the source changes under it. The copy is
    written beside the destination and renamed into place, so a failed backup
    never leaves a half-written file under the final name.

    Raises:
        StorageError: not a SQLite database (a PostgreSQL server is backed up by
            its own tools, which also copy a live database consistently), or the
            destination cannot be written.
    """
    if engine.dialect.name != "sqlite":
        where = engine.url.render_as_string(hide_password=True)
        msg = (
            f"the online backup copies SQLite files, and {where} is a {engine.dialect.name} "
            "database: back it up on the server with pg_dump (pg_dump -Fc -f inspector.dump "
            "DATABASE; pg_restore restores it)"
        )
        raise StorageError(msg)
    target = Path(destination)
    if target.exists():
        msg = f"{target} exists already: choose a new file name for the backup"
        raise StorageError(msg)
    partial = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        raw = engine.raw_connection()
        try:
            source = raw.driver_connection
            with sqlite3.connect(partial) as copy:
                source.backup(
                    copy,
                    pages=pages_per_step,
                    progress=(lambda _status, left, total: progress(total - left, total))
                    if progress
                    else None,
                )
            copy.close()
        finally:
            raw.close()
        partial.replace(target)
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        msg = f"backup to {target} failed: {exc}"
        raise StorageError(msg) from exc
    return target
