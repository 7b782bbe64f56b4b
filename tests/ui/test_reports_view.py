"""The Reports tab on a hand-counted database: tables, charts, out-of-control points, PDF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from inspector.core import Defect, Verdict
from inspector.reports.quality import ShiftCalendar
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections
from inspector.storage.reviews import ReviewDecision, add_review
from inspector.ui.reports_view import ReportsView
from tests.records import new_record

T0 = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)
DAYS = 10
PER_DAY = 100
BAD_DAY = 7  # 30 rejects instead of 3: far above the 3-sigma limit


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """100 parts a day for 10 days, 3 rejected a day (30 on day 7), rejects reviewed on day 0;
    the lamp dims on the last day (mean grey 120 + i % 3, then 100)."""
    path = tmp_path / "data" / "inspections.db"
    engine = open_database(path)
    records = []
    for day in range(DAYS):
        rejects = 30 if day == BAD_DAY else 3
        for i in range(PER_DAY):
            bad = i < rejects
            records.append(
                new_record(
                    captured_at=T0 + timedelta(days=day, minutes=10 * i),
                    station="line-1",
                    part_id=day * PER_DAY + i,
                    verdict=Verdict.REJECT if bad else Verdict.ACCEPT,
                    score=0.9 if bad else 0.2 + 0.001 * (i % 7),
                    defects=(Defect("crack" if i == 0 else "scratch", 0.9, (1, 1, 4, 4), 9),)
                    if bad
                    else (),
                    grey_mean=(100.0 if day == DAYS - 1 else 120.0) + i % 3,
                )
            )
    ids = add_inspections(engine, records)
    add_review(engine, ids[0], reviewer="qa", decision=ReviewDecision.FALSE_REJECT)
    add_review(engine, ids[1], reviewer="qa", decision="confirm", defect_class="scratch")
    engine.dispose()
    return path


@pytest.fixture
def view(qtbot, db: Path):
    engine = open_database(db)
    widget = ReportsView(engine, ImageStore.beside(db), calendar=ShiftCalendar(tz=UTC))
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    widget.set_period(T0, T0 + timedelta(days=DAYS))
    widget.bucket.setCurrentText("per day")  # shows the report
    yield widget
    engine.dispose()


def _summary(view: ReportsView) -> dict[str, str]:
    table = view.summary
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


def test_summary_and_confusion_match_the_hand_count(view: ReportsView) -> None:
    rejected = 3 * (DAYS - 1) + 30
    summary = _summary(view)
    assert summary["Parts inspected"] == f"{DAYS * PER_DAY:,}"
    assert summary["Rejected"] == str(rejected)
    assert summary["Yield"] == f"{100 * (DAYS * PER_DAY - rejected) / (DAYS * PER_DAY):.2f} %"
    assert summary["False rejects (rejected, found good)"] == "1"
    reject_row = [view.confusion.item(1, c).text() for c in range(4)]
    assert reject_row == ["REJECT", "1", "1", "2"]
    assert "false-reject rate 50.0 %" in view.notes.text()


def test_p_chart_flags_the_bad_day_and_pareto_is_ordered(view: ReportsView) -> None:
    report = view.report
    assert report is not None
    assert report.series.buckets.labels[BAD_DAY] == "2026-05-11"
    assert report.p.out_of_control[BAD_DAY]
    assert report.p.signals[1].sum() == 1  # rule 1: only the bad day is beyond 3 sigma
    assert report.pareto.classes == ("scratch", "crack")
    assert list(report.pareto.defects) == [3 * (DAYS - 1) + 30 - DAYS, DAYS]
    p_axes = view.canvases[1].figure.axes[0]
    flagged = f"out of control ({int(report.p.out_of_control.sum())})"  # rule 4 flags the rest
    assert flagged in [t.get_text() for t in p_axes.get_legend().get_texts()]
    assert all(canvas.figure.axes for canvas in view.canvases)


def test_the_lighting_chart_shows_the_lamp_dimming_on_the_last_day(view: ReportsView) -> None:
    lighting = view.report.lighting
    assert lighting is not None
    assert lighting.chart.values[0] == pytest.approx(120.99)  # 120 + (33 * 1 + 33 * 2) / 100
    assert lighting.chart.out_of_control[DAYS - 1] and lighting.chart.alarm
    title = view.canvases[4].figure.axes[0].get_title(loc="left")
    assert title == "Lighting of the parts  —  ALARM: lighting has shifted"


def test_buckets_change_the_resolution(view: ReportsView) -> None:
    view.bucket.setCurrentText("per shift")
    # Midnight cuts the night shift: it starts the range and ends it (22:00 to midnight).
    assert len(view.report.series.buckets.labels) == 3 * DAYS + 1
    assert view.report.series.buckets.labels[0] == "2026-05-03 shift 3"


def test_a_reversed_range_is_explained_not_raised(view: ReportsView) -> None:
    view.set_period(T0 + timedelta(days=2), T0)
    assert view.refresh() is None
    assert "before its end" in view.message.text()


def test_pdf_export_shows_the_same_figures(view: ReportsView, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    report = view.export_pdf(out)
    assert report.summary == view.report.summary
    text = PdfReader(out).pages[0].extract_text()
    assert f"Yield {_summary(view)['Yield']}" in text
