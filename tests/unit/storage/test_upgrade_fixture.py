"""A database written by the first released schema upgrades with its data intact."""

import shutil
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from inspector.core import Verdict
from inspector.storage.engine import MIGRATIONS_DIR, open_database
from inspector.storage.repository import get_inspection, recent_inspections

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "inspections_schema_0001.db"


def test_first_schema_database_upgrades_to_head_with_data_intact(tmp_path):
    copy = tmp_path / "old.db"
    shutil.copy(FIXTURE, copy)
    engine = open_database(copy)
    with engine.connect() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert head == ScriptDirectory.from_config(config).get_current_head()
    assert {"reviews"} <= set(inspect(engine).get_table_names())
    records = recent_inspections(engine, limit=100)
    assert len(records) == 12
    rejects = [r for r in records if r.verdict is Verdict.REJECT]
    assert len(rejects) == 4 and all(r.defects[0].box == (10, 20, 30, 40) for r in rejects)
    first = get_inspection(engine, 1)
    assert (first.part_id, first.score, first.model_version, first.serial) == (
        0,
        20.0,
        "demo-line-v0",
        None,
    )
    engine.dispose()
