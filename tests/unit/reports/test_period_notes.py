"""The notes a period report gives when a drift chart cannot be drawn say what it needs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from inspector.core.shifts import ShiftCalendar
from inspector.reports.period import period_report
from inspector.storage.engine import open_database
from inspector.storage.repository import add_inspections
from tests.records import new_record

MAY4 = datetime(2026, 5, 4, tzinfo=UTC)


@pytest.fixture
def two_good_days(tmp_path: Path) -> Iterator[Engine]:
    """A good, measured part every 10 minutes on 4 and 5 May (UTC)."""
    engine = open_database(tmp_path / "notes.db")
    add_inspections(
        engine,
        [
            new_record(
                captured_at=MAY4 + timedelta(minutes=10 * i),
                part_id=i,
                score=0.3 + 0.001 * (i % 7),
                grey_mean=100.0 + i % 5,
                grey_spread=20.0,
            )
            for i in range(2 * 144)
        ],
    )
    yield engine
    engine.dispose()


def test_two_days_of_parts_are_one_baseline_day_and_the_note_says_so(
    two_good_days: Engine,
) -> None:
    calendar = ShiftCalendar(tz=UTC)
    end = MAY4 + timedelta(days=2)
    report = period_report(two_good_days, MAY4, end, bucket="day", calendar=calendar)
    assert report.drift is None and report.lighting is None
    baseline = (
        "in at least two days starting before 2026-05-05 00:00 (its baseline, the first half"
        " of the range): choose a longer range or smaller buckets."
    )
    assert report.notes == (
        f"Score drift needs good parts {baseline}",
        f"The lighting chart needs measured parts {baseline}",
    )
    # The same parts in shifts fill three baseline buckets: both charts are drawn.
    shifts = period_report(two_good_days, MAY4, end, bucket="shift", calendar=calendar)
    assert shifts.drift is not None and shifts.lighting is not None
    assert shifts.notes == ()
