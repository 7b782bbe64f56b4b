"""Traceability: a part's serial is stored, found again, and added to older databases."""

from sqlalchemy import inspect, text

from inspector.storage.engine import open_database
from inspector.storage.history import HistoryFilter, count_history, history_page
from inspector.storage.repository import add_inspections, get_inspection
from tests.records import database_at, downgrade, new_record, plain_engine


def test_serial_round_trips(engine):
    with_serial, without = add_inspections(
        engine, [new_record(serial="LOT7-000123"), new_record(serial=None)]
    )
    assert get_inspection(engine, with_serial).serial == "LOT7-000123"
    assert get_inspection(engine, without).serial is None


def test_a_database_from_before_serials_is_upgraded_with_its_records(database_url):
    database_at(database_url, "0002")
    engine = open_database(database_url)
    assert get_inspection(engine, 1).serial is None
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("inspections")}
    assert "ix_inspections_serial" in indexes
    engine.dispose()
    downgrade(database_url, "0002")
    down = plain_engine(database_url)
    assert "serial" not in {c["name"] for c in inspect(down).get_columns("inspections")}
    with down.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM inspections")).scalar() == 1
    down.dispose()


def test_history_finds_a_part_by_its_serial(engine):
    add_inspections(engine, [new_record(serial=f"SN-{n}") for n in range(50)] + [new_record()])
    page = history_page(engine, HistoryFilter(serial="SN-17"))
    assert [row.inspection.serial for row in page.rows] == ["SN-17"]
    assert count_history(engine, HistoryFilter(serial="nope")) == 0
