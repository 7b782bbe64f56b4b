"""Traceability: a part's serial is stored, found again, and added to older databases."""

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from inspector.core import Verdict
from inspector.storage.engine import MIGRATIONS_DIR, open_database
from inspector.storage.repository import NewRecord, add_inspections, get_inspection


def _record(serial):
    return NewRecord(
        captured_at=datetime.now(UTC),
        station="s",
        camera_id="c",
        part_id=1,
        verdict=Verdict.REJECT,
        score=2.0,
        threshold=1.0,
        model_version="m",
        rules_version="r",
        inference_ms=1.0,
        latency_ms=2.0,
        error=None,
        image_path=None,
        serial=serial,
    )


def test_serial_round_trips(tmp_path):
    engine = open_database(tmp_path / "t.db")
    with_serial, without = add_inspections(engine, [_record("LOT7-000123"), _record(None)])
    assert get_inspection(engine, with_serial).serial == "LOT7-000123"
    assert get_inspection(engine, without).serial is None


def test_a_database_from_before_serials_is_upgraded_with_its_records(tmp_path):
    path = tmp_path / "old.db"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    old = create_engine(f"sqlite:///{path}")
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text(
                "INSERT INTO inspections (captured_at, station, camera_id, part_id, verdict, "
                "threshold, model_version, rules_version, inference_ms, latency_ms) VALUES "
                "('2026-01-01 00:00:00.000000', 's', 'c', 1, 'reject', 0.5, 'm', 'r', 1, 2)"
            )
        )
    old.dispose()
    engine = open_database(path)
    assert get_inspection(engine, 1).serial is None
    assert "ix_inspections_serial" in {
        ix["name"] for ix in inspect(engine).get_indexes("inspections")
    }
    engine.dispose()
    down = create_engine(f"sqlite:///{path}")
    with down.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert "serial" not in {c["name"] for c in inspect(down).get_columns("inspections")}
    with down.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM inspections")).scalar() == 1
    down.dispose()


def test_history_finds_a_part_by_its_serial(tmp_path):
    from inspector.storage.history import HistoryFilter, count_history, history_page

    engine = open_database(tmp_path / "t.db")
    add_inspections(engine, [_record(f"SN-{n}") for n in range(50)] + [_record(None)])
    page = history_page(engine, HistoryFilter(serial="SN-17"))
    assert [row.inspection.serial for row in page.rows] == ["SN-17"]
    assert count_history(engine, HistoryFilter(serial="nope")) == 0
