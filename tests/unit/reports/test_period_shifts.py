"""Shifts and time zone from the station file, counted per shift and day across DST changes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from sqlalchemy import Engine

from inspector.cli import main
from inspector.core.shifts import ShiftCalendar, local_zone, shift_calendar
from inspector.core.verdict import Verdict
from inspector.pipeline.station_config import ConfigError, load_station_config
from inspector.reports.period import period_report
from inspector.reports.quality import yield_series
from inspector.storage.engine import open_database
from inspector.storage.repository import add_inspections
from tests.records import new_record

STATION_FILE = """
[reports]
timezone = "Europe/Berlin"
shifts = [
    {name = "early", start = "06:00"},
    {name = "late", start = "14:00"},
    {name = "night", start = "22:00", end = "06:00"},
]
"""


@pytest.fixture
def calendar(tmp_path: Path, berlin: ZoneInfo) -> ShiftCalendar:
    file = tmp_path / "station.toml"
    file.write_text(STATION_FILE, encoding="utf-8")
    settings = load_station_config(file).line_settings()
    assert settings.shift_calendar is not None
    return settings.shift_calendar


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(tmp_path / "shifts.db")
    yield engine
    engine.dispose()


def _every_half_hour(engine: Engine, first: datetime, count: int) -> None:
    """Part k at ``first + 30 k min``; every fourth (k % 4 == 3) rejected."""
    add_inspections(
        engine,
        [
            new_record(
                captured_at=first + timedelta(minutes=30 * k),
                part_id=k,
                verdict=Verdict.REJECT if k % 4 == 3 else Verdict.ACCEPT,
            )
            for k in range(count)
        ],
    )


def test_the_station_file_gives_named_shifts_in_the_plants_zone(calendar: ShiftCalendar) -> None:
    assert calendar.starts == (time(6), time(14), time(22))
    assert calendar.names == ("early", "late", "night")
    assert calendar.tz == ZoneInfo("Europe/Berlin")


def test_counts_per_shift_and_day_on_the_day_clocks_go_back(
    engine: Engine, calendar: ShiftCalendar, berlin: ZoneInfo
) -> None:
    # 24 Oct 00:00 CEST (22:00 UTC the day before) to 26 Oct 00:00 CET (25 Oct 23:00 UTC):
    # 49 hours, one part every 30 minutes = 98 parts; clocks go back at 03:00 CEST on 25 Oct.
    start = datetime(2026, 10, 24, tzinfo=berlin)
    end = datetime(2026, 10, 26, tzinfo=berlin)
    assert start.astimezone(UTC) == datetime(2026, 10, 23, 22, tzinfo=UTC)
    _every_half_hour(engine, start.astimezone(UTC), 98)

    shifts = yield_series(engine, start, end, bucket="shift", calendar=calendar)
    assert shifts.buckets.labels == (
        "2026-10-23 night",  # 00:00-06:00 CEST, 6 h: parts 0-11
        "2026-10-24 early",  # 04:00-12:00 UTC: parts 12-27
        "2026-10-24 late",  # 12:00-20:00 UTC: parts 28-43
        "2026-10-24 night",  # 20:00 UTC to 06:00 CET = 05:00 UTC, 9 h: parts 44-61
        "2026-10-25 early",  # 05:00-13:00 UTC: parts 62-77
        "2026-10-25 late",  # 13:00-21:00 UTC: parts 78-93
        "2026-10-25 night",  # 21:00-23:00 UTC, until the range ends: parts 94-97
    )
    assert shifts.inspected.tolist() == [12, 16, 16, 18, 16, 16, 4]
    assert shifts.rejected.tolist() == [3, 4, 4, 4, 4, 4, 1]  # k = 3, 7, 11, ... 95

    days = yield_series(engine, start, end, bucket="day", calendar=calendar)
    assert days.buckets.labels == ("2026-10-24", "2026-10-25")
    assert days.inspected.tolist() == [48, 50]  # 24 h and 25 h

    report = period_report(engine, start, end, bucket="day", calendar=calendar)
    assert report.calendar is calendar
    assert [(s.name, s.parts, s.accepted) for s in report.per_shift] == [
        ("early", 32, 24),
        ("late", 32, 24),
        ("night", 34, 26),  # 12 + 18 + 4 parts, 3 + 4 + 1 rejected
    ]
    assert report.summary.parts == 98


def test_the_night_shift_is_seven_hours_when_clocks_go_forward(
    engine: Engine, calendar: ShiftCalendar, berlin: ZoneInfo
) -> None:
    # 28 Mar 22:00 CET (21:00 UTC) to 29 Mar 06:00 CEST (04:00 UTC): 7 hours, 14 parts.
    start = datetime(2026, 3, 28, 14, tzinfo=berlin)
    end = datetime(2026, 3, 30, tzinfo=berlin)
    _every_half_hour(engine, start.astimezone(UTC), 2 * 33)  # until 30 Mar 00:00 CEST
    shifts = yield_series(engine, start, end, bucket="shift", calendar=calendar)
    assert shifts.buckets.labels[:3] == ("2026-03-28 late", "2026-03-28 night", "2026-03-29 early")
    assert shifts.inspected.tolist() == [16, 14, 16, 16, 4]
    days = yield_series(engine, start, end, bucket="day", calendar=calendar)
    assert days.inspected.tolist() == [20, 46]  # 10 h of 28 March, the 23-hour 29 March


def test_a_midnight_that_never_happens_starts_its_day_and_shift_at_the_clock_change(
    engine: Engine,
) -> None:
    try:
        santiago = ZoneInfo("America/Santiago")
    except ZoneInfoNotFoundError:
        pytest.skip("no time zone database on this machine")
    calendar = ShiftCalendar(
        starts=(time(0), time(8), time(16)), tz=santiago, names=("night", "early", "late")
    )
    # Clocks jump from 00:00 -04 to 01:00 -03 on 6 Sep 2026 (04:00 UTC): no local midnight.
    start = datetime(2026, 9, 5, 16, tzinfo=santiago)  # 20:00 UTC
    end = datetime(2026, 9, 7, tzinfo=santiago)  # 03:00 UTC on 7 Sep, 31 h later
    _every_half_hour(engine, start.astimezone(UTC), 62)

    shifts = yield_series(engine, start, end, bucket="shift", calendar=calendar)
    assert shifts.buckets.labels == (
        "2026-09-05 late",  # 20:00-04:00 UTC, 8 h
        "2026-09-06 night",  # from the change (01:00 -03) to 08:00 -03 = 11:00 UTC, 7 h
        "2026-09-06 early",
        "2026-09-06 late",
    )
    assert shifts.buckets.starts[1].astimezone(UTC) == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert shifts.inspected.tolist() == [16, 14, 16, 16]

    days = yield_series(engine, start, end, bucket="day", calendar=calendar)
    assert days.buckets.labels == ("2026-09-05", "2026-09-06")
    assert days.inspected.tolist() == [16, 46]  # 8 h of 5 Sep, the 23-hour 6 Sep


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('timezone = "Berlin"', "reports.timezone = 'Berlin': Value error, unknown time zone"),
        ('timezone = "+02:00"', "use an IANA name such as 'Europe/Berlin'"),
        (
            'shifts = [{name = "late", start = "14:00"}, {name = "early", start = "06:00"}]',
            "listed in the order they start, each at its own time: 'early' (06:00) comes "
            "after 'late' (14:00)",
        ),
        (
            'shifts = [{name = "day", start = "06:00"}, {name = "day", start = "18:00"}]',
            "'day' is used twice",
        ),
        (
            'shifts = [{name = "day", start = "06:00", end = "17:00"}, '
            '{name = "night", start = "18:00"}]',
            "'day' ends at 17:00 but 'night' starts at 18:00 (a gap)",
        ),
        (
            'shifts = [{name = "day", start = "06:00"}, '
            '{name = "night", start = "18:00", end = "07:00"}]',
            "'night' ends at 07:00 but 'day' starts at 06:00 (an overlap)",
        ),
        ('shifts = [{name = "day", start = "6am"}]', "must be a time of day as HH:MM"),
        ("shifts = []", "list at least one shift"),
        ('shifts = [{name = "day", begin = "06:00"}]', "reports.shifts.0.begin: unknown key"),
    ],
)
def test_a_bad_reports_table_is_refused_with_the_key_and_what_to_write(
    tmp_path: Path, table: str, expected: str
) -> None:
    file = tmp_path / "station.toml"
    file.write_text(f"[reports]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_station_config(file)
    assert expected in str(refused.value)


def test_without_a_zone_the_computers_own_zone_is_used_with_its_dst_rules(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, berlin: ZoneInfo
) -> None:
    monkeypatch.setenv("TZ", "America/Chicago")
    assert local_zone() == ZoneInfo("America/Chicago")
    file = tmp_path / "station.toml"
    file.write_text('[reports]\nshifts = [{name = "day", start = "07:00"}]\n', encoding="utf-8")
    calendar = load_station_config(file).reports.calendar()
    assert calendar.tz == ZoneInfo("America/Chicago")
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC).astimezone(calendar.tz)
    winter = datetime(2026, 12, 1, 12, tzinfo=UTC).astimezone(calendar.tz)
    assert (summer.utcoffset(), winter.utcoffset()) == (timedelta(hours=-5), timedelta(hours=-6))


def test_one_shift_covers_the_day_and_unnamed_shifts_are_numbered() -> None:
    single = shift_calendar([("all day", time(6), time(6))])
    assert single.shift_label(datetime(2026, 5, 4, 3, tzinfo=UTC)) == "2026-05-03 all day"
    assert ShiftCalendar().shift_label(datetime(2026, 5, 4, 15, tzinfo=UTC)) == "2026-05-04 shift 2"
    with pytest.raises(ValueError, match="one name per shift start"):
        ShiftCalendar(names=("early",))


def test_report_command_cuts_the_range_and_shifts_in_the_station_files_zone(
    tmp_path: Path, berlin: ZoneInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "line.db"
    engine = open_database(db)
    _every_half_hour(engine, datetime(2026, 10, 23, 22, tzinfo=UTC), 98)
    engine.dispose()
    station = tmp_path / "station.toml"
    station.write_text(f'{STATION_FILE}\n[storage]\ndatabase = "{db.as_posix()}"\n', "utf-8")
    pdf = tmp_path / "october.pdf"

    # Dates without a zone are Berlin midnights, not this computer's (UTC) ones.
    argv = ["report", "--config", str(station), "--from", "2026-10-24", "--to", "2026-10-26"]
    code = main([*argv, "--pdf", str(pdf)])

    printed = capsys.readouterr().out
    assert code == 0
    assert f"98 parts, yield 75.51 %: report written to {pdf}" in printed  # 74 of 98
    assert "  night: 34 parts, yield 76.47 %" in printed  # 26 of 34
    assert pdf.read_bytes().startswith(b"%PDF")


def test_report_command_writes_the_pdf_without_the_font_librarys_chatter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "line.db"
    engine = open_database(db)
    _every_half_hour(engine, datetime(2026, 5, 4, tzinfo=UTC), 48)
    engine.dispose()
    pdf = tmp_path / "may.pdf"
    caplog.set_level(logging.INFO)  # as the command's own console: INFO and up
    argv = ["report", "--db", str(db), "--from", "2026-05-04T00:00Z", "--to", "2026-05-05T00:00Z"]
    assert main([*argv, "--pdf", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    # fontTools logged some 150 INFO lines subsetting the PDF's fonts.
    assert [r.name for r in caplog.records if r.name.startswith("fontTools")] == []


def test_report_command_refuses_a_bad_station_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    station = tmp_path / "station.toml"
    station.write_text('[reports]\ntimezone = "Mars/Olympus"\n', "utf-8")
    argv = ["report", "--config", str(station), "--from", "2026-10-24", "--to", "2026-10-26"]
    assert main([*argv, "--pdf", str(tmp_path / "r.pdf")]) == 1
    assert "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err
    assert not (tmp_path / "r.pdf").exists()
