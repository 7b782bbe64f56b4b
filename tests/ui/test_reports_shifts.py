"""The Reports tab in the plant's zone: range fields in Berlin time, a row per named shift."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from inspector.core import Verdict
from inspector.core.shifts import shift_calendar
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections
from inspector.ui.reports_view import ReportsView
from tests.records import new_record


def test_range_and_shift_table_follow_the_plants_zone(qtbot, tmp_path: Path) -> None:
    try:
        berlin = ZoneInfo("Europe/Berlin")
    except ZoneInfoNotFoundError:
        pytest.skip("no time zone database on this machine")
    calendar = shift_calendar([("day", time(6), None), ("night", time(18), None)], berlin)
    db = tmp_path / "data" / "inspections.db"
    engine = open_database(db)
    first = datetime(2026, 10, 24, 22, tzinfo=UTC)  # 25 Oct 00:00 CEST; clocks go back at 03:00
    add_inspections(
        engine,
        [
            new_record(
                captured_at=first + timedelta(hours=h),
                part_id=h,
                verdict=Verdict.REJECT if h % 5 == 0 else Verdict.ACCEPT,
            )
            for h in range(25)  # one part an hour for the 25 hours of 25 October
        ],
    )
    view = ReportsView(engine, ImageStore.beside(db), calendar=calendar)
    qtbot.addWidget(view)
    view.show()
    view.start_edit.setDateTime(datetime(2026, 10, 25, 0, 0))  # Berlin wall time
    view.end_edit.setDateTime(datetime(2026, 10, 26, 0, 0))
    assert view.period() == (first, datetime(2026, 10, 25, 23, tzinfo=UTC))
    view.bucket.setCurrentText("per day")  # shows the report
    assert view.report is not None
    assert view.report.series.inspected.tolist() == [25]
    rows = [
        [view.shifts.item(r, c).text() for c in range(3)] for r in range(view.shifts.rowCount())
    ]
    # night 00:00-06:00 CET/CEST (7 h, parts 0-6) and 18:00-24:00 (6 h, parts 19-24): 13 parts,
    # rejects 0, 5, 20 -> 10/13; day 06:00-18:00 CET (parts 7-18): 12 parts, rejects 10, 15.
    assert rows == [["day", "12", "83.33 %"], ["night", "13", "76.92 %"]]
    assert view.zone.text() == "Times in Europe/Berlin"
    view.set_period(first, first + timedelta(hours=1))
    assert view.start_edit.dateTime().toPython() == datetime(2026, 10, 25, 0, 0)
    engine.dispose()
