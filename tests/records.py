"""Small builders shared by tests: plain records and databases at an old revision."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text

from inspector.core import Verdict
from inspector.storage.engine import MIGRATIONS_DIR
from inspector.storage.repository import NewRecord


def new_record(**fields: Any) -> NewRecord:
    """A record as the writer would store it; ``fields`` override plain defaults.

    Defaults: now, station ``line-1``, camera ``cam0``, part 0, ACCEPT with score
    0.3 against threshold 0.5, model ``m-1``, rules ``r-1``, no image, no defects.
    """
    base = NewRecord(
        captured_at=datetime.now(UTC),
        station="line-1",
        camera_id="cam0",
        part_id=0,
        verdict=Verdict.ACCEPT,
        score=0.3,
        threshold=0.5,
        model_version="m-1",
        rules_version="r-1",
        inference_ms=1.0,
        latency_ms=2.0,
        error=None,
        image_path=None,
    )
    return replace(base, **fields)


def migrations_config() -> Config:
    """Alembic configuration pointing at the package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def plain_engine(target: Path | str) -> Engine:
    """An engine on a SQLite file or a database URL, without migrating anything."""
    return create_engine(target if isinstance(target, str) else f"sqlite:///{target}")


def database_at(target: Path | str, revision: str) -> None:
    """Create a database migrated only to ``revision``, holding one reject record (id 1).

    ``target`` is a SQLite file or a URL of an empty database (PostgreSQL).
    """
    config = migrations_config()
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
    engine = plain_engine(target)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.execute(
            text(
                "INSERT INTO inspections (captured_at, station, camera_id, part_id, verdict, "
                "threshold, model_version, rules_version, inference_ms, latency_ms) VALUES "
                "('2026-01-01 00:00:00.000000', 's', 'c', 1, 'reject', 0.5, 'm', 'r', 1, 2)"
            )
        )
    engine.dispose()


def downgrade(target: Path | str, revision: str) -> None:
    """Migrate an existing database (file or URL) down to ``revision``."""
    config = migrations_config()
    engine = plain_engine(target)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    engine.dispose()
