"""The History tab over a real SQLite file: lazy paging, filters, the stored-part dialog, CSV."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PySide6.QtCore import Qt

from inspector.core import Defect, Verdict
from inspector.core.shifts import ShiftCalendar
from inspector.pipeline.line import LineSettings
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections
from inspector.storage.reviews import ReviewDecision, add_review
from inspector.ui.history_view import HistoryView
from inspector.ui.main_window import MainWindow
from inspector.ui.stored_inspection_dialog import NO_MAP_NOTE, StoredInspectionDialog
from tests.records import new_record

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
PARTS = 3000
PAGE = 100


def _verdict(i: int) -> Verdict:
    return Verdict.REJECT if i % 10 == 0 else Verdict.REVIEW if i % 25 == 1 else Verdict.ACCEPT


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """3,000 parts (serial SN-00000 on) one minute apart on two stations; every 10th rejected."""
    path = tmp_path / "data" / "inspections.db"
    engine = open_database(path)
    store = ImageStore.beside(path)
    image = np.full((48, 64, 3), 90, np.uint8)
    records = []
    for i in range(PARTS):
        verdict = _verdict(i)
        when = T0 + timedelta(minutes=i)
        records.append(
            new_record(
                captured_at=when,
                station=f"line-{i % 2 + 1}",
                part_id=i,
                serial=f"SN-{i:05d}",
                verdict=verdict,
                score=round(0.9 if verdict is Verdict.REJECT else 0.1 + (i % 30) / 100, 3),
                image_path=store.save(
                    image, captured_at=when, station="line", part_id=i, verdict=verdict
                )
                if i == PARTS - 10
                else None,
                defects=(Defect("scratch", 0.9, (4, 4, 10, 10), 60),)
                if verdict is Verdict.REJECT
                else (),
                grey_mean=90.0 if i == PARTS - 10 else None,
                grey_spread=0.4 if i == PARTS - 10 else None,
            )
        )
    ids = add_inspections(engine, records)
    add_review(engine, ids[PARTS - 10], reviewer="qa", decision=ReviewDecision.FALSE_REJECT)
    engine.dispose()
    return path


@pytest.fixture
def view(qtbot, db: Path):
    engine = open_database(db)
    widget = HistoryView(engine, ImageStore.beside(db), page_size=PAGE)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    widget.period.setCurrentText("All time")
    yield widget
    engine.dispose()


@pytest.fixture
def computer_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This computer's clock (the C library's local time too) in New York, not the plant's."""
    if not hasattr(time, "tzset"):
        pytest.skip("the local zone can only be changed for a test on Unix")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _count(view: HistoryView) -> int:
    return int(view.count_label.text().split()[0].replace(",", ""))


def test_pages_are_fetched_as_the_table_scrolls(qtbot, view: HistoryView) -> None:
    qtbot.waitUntil(lambda: "match" in view.count_label.text(), timeout=5000)
    assert _count(view) == PARTS
    assert view.model.rowCount() == PAGE  # only the first page is read
    assert view.model.row_at(0).inspection.part_id == PARTS - 1  # newest first
    for _ in range(3):
        view.table.scrollToBottom()
        qtbot.wait(20)
    assert view.model.rowCount() >= 3 * PAGE
    assert view.model.rowCount() < PARTS
    times = [view.model.row_at(r).inspection.captured_at for r in range(view.model.rowCount())]
    assert times == sorted(times, reverse=True)
    assert len({view.model.row_at(r).inspection.id for r in range(len(times))}) == len(times)


def test_filters_narrow_the_count_and_the_rows(qtbot, view: HistoryView) -> None:
    view.verdict.setCurrentText("Rejected")  # applies at once
    qtbot.waitUntil(lambda: "match" in view.count_label.text(), timeout=5000)
    assert _count(view) == PARTS // 10
    view.station.setText("line-1")  # rejects are the even parts: all on line-1
    view.defect_class.setText("scratch")
    view.apply_filter()
    qtbot.waitUntil(lambda: "match" in view.count_label.text(), timeout=5000)
    assert _count(view) == PARTS // 10
    view.station.setText("line-2")
    view.apply_filter()
    qtbot.waitUntil(lambda: "match" in view.count_label.text(), timeout=5000)
    assert _count(view) == 0
    assert view.model.rowCount() == 0
    view.reset_filter()
    view.period.setCurrentText("All time")
    view.reviewed.setCurrentText("Reviewed")
    qtbot.waitUntil(lambda: "match" in view.count_label.text(), timeout=5000)
    assert _count(view) == 1
    assert view.model.row_at(0).review is not None


def test_the_serial_field_finds_one_part_and_its_export(
    qtbot, view: HistoryView, tmp_path: Path
) -> None:
    view.serial.setText(" SN-00042 ")
    assert view.apply_filter()
    qtbot.waitUntil(lambda: "match" in view.count_label.text(), timeout=5000)
    assert _count(view) == 1
    assert view.model.row_at(0).inspection.part_id == 42
    out = tmp_path / "serial.csv"
    assert view.export_csv(out) == 1
    with out.open(encoding="utf-8-sig") as stream:
        assert [row["serial"] for row in csv.DictReader(stream)] == ["SN-00042"]
    view.reset_filter()
    assert view.serial.text() == ""


def test_export_takes_what_the_fields_show_even_if_not_applied(
    view: HistoryView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    out = tmp_path / "typed.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    view.serial.setText("SN-00042")  # typed, Enter not pressed
    view._ask_export()
    with out.open(encoding="utf-8-sig") as stream:
        assert [row["serial"] for row in csv.DictReader(stream)] == ["SN-00042"]
    assert view.message.text() == f"1 records written to {out}"


def test_sort_by_score_and_a_bad_score_is_explained(qtbot, view: HistoryView) -> None:
    view.sort.setCurrentText("Lowest score first")
    scores = [view.model.row_at(r).inspection.score for r in range(view.model.rowCount())]
    assert scores == sorted(scores)
    view.score_min.setText("0.8")
    view.score_max.setText("0.2")
    assert not view.apply_filter()
    assert "score_min" in view.message.text()


def test_double_click_opens_the_stored_part_with_its_review(qtbot, view: HistoryView) -> None:
    view.reviewed.setCurrentText("Reviewed")
    index = view.model.index(0, 0)
    rect = view.table.visualRect(index)
    # A double click is a press followed by a double-click event, as a real mouse sends it.
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialogs = view.findChildren(StoredInspectionDialog)
    assert len(dialogs) == 1
    dialog = dialogs[0]
    assert dialog.view.has_image()
    assert dialog.map_note.text() == NO_MAP_NOTE
    assert dialog.review_table.rowCount() == 1
    assert dialog.review_table.item(0, 2).text() == "false reject"
    assert "<b>Lighting:</b> mean grey 90, spread 0" in dialog.details.text()
    with_boxes = dialog.view.image_size()
    dialog.overlay_box.setChecked(False)  # the raw image still shows, as large: nothing jumps
    assert dialog.view.has_image() and dialog.view.image_size() == with_boxes


def test_csv_export_writes_every_match_not_only_the_rows_read(view: HistoryView, tmp_path) -> None:
    view.verdict.setCurrentText("Rejected or review")
    out = tmp_path / "history.csv"
    written = view.export_csv(out)
    expected = sum(_verdict(i) is not Verdict.ACCEPT for i in range(PARTS))
    assert written == expected > PAGE
    with out.open(encoding="utf-8-sig") as stream:
        assert {row["verdict"] for row in csv.DictReader(stream)} == {"reject", "review"}


def test_range_fields_and_times_are_in_the_plants_zone_not_this_computers(
    qtbot, db: Path, berlin: ZoneInfo, computer_in_new_york: None
) -> None:
    engine = open_database(db)
    calendar = ShiftCalendar(tz=berlin)
    view = HistoryView(engine, ImageStore.beside(db), page_size=PAGE, calendar=calendar)
    qtbot.addWidget(view)
    view.period.setCurrentText("Custom")
    view.start_edit.setDateTime(datetime(2026, 5, 4, 8, 0))  # Berlin wall time of T0
    view.end_edit.setDateTime(datetime(2026, 5, 4, 9, 0))
    assert view.apply_filter()
    assert (view.model.filter.start, view.model.filter.end) == (T0, T0 + timedelta(hours=1))
    qtbot.waitUntil(lambda: "match" in view.count_label.text(), timeout=5000)
    assert _count(view) == 60
    assert view.model.data(view.model.index(0, 0)) == "2026-05-04 08:59:00"  # part 59
    assert view.zone.text() == "Times in Europe/Berlin"
    dialog = view.open_row(0)
    assert "<b>Time:</b> 2026-05-04 08:59:00 CEST" in dialog.details.text()
    dialog.close()
    engine.dispose()


def test_main_window_keeps_live_first_and_opens_history_on_the_line_database(qtbot, db) -> None:
    window = MainWindow(LineSettings(database=db))
    qtbot.addWidget(window)
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs == ["Live", "History", "Review", "Reports", "Station", "Models", "Audit"]
    assert window.tabs.currentIndex() == 0
    assert not window.qa_tabs.views  # nothing built until a QA tab is opened
    window.tabs.setCurrentIndex(1)
    history = window.qa_tabs.views["History"]
    assert isinstance(history, HistoryView)
    assert history.engine.url.database == str(db)
    window.close()


def test_main_window_gives_history_the_station_files_zone(qtbot, db, berlin: ZoneInfo) -> None:
    window = MainWindow(LineSettings(database=db, shift_calendar=ShiftCalendar(tz=berlin)))
    qtbot.addWidget(window)
    window.tabs.setCurrentIndex(1)
    history = window.qa_tabs.views["History"]
    assert isinstance(history, HistoryView)
    assert history.tz == berlin
    window.close()


def test_an_escape_found_downstream_is_recorded_from_the_parts_dialog(qtbot, db: Path) -> None:
    from inspector.storage.reviews import review_history

    engine = open_database(db)
    signed_in: list[str | None] = [None]
    view = HistoryView(engine, ImageStore.beside(db), page_size=PAGE, actor=lambda: signed_in[0])
    qtbot.addWidget(view)
    view.period.setCurrentText("All time")
    assert view.apply_filter()
    qtbot.waitUntil(lambda: view.model.rowCount() > 0, timeout=5000)
    dialog = view.open_row(0)  # part 2999: accepted on the line
    form = dialog.review_form
    assert dialog.stored.verdict is Verdict.ACCEPT and form is not None
    form.decision.setCurrentText("a defect the line let through (escape)")
    assert form.defect_class.isEnabled()

    assert form.record() is None  # nobody signed in: nothing stored
    assert "a QA user must sign in" in form.message.text()
    signed_in[0] = "qa-anna"
    assert form.record() is None  # a defect needs its class
    assert form.message.text().startswith("not stored:")
    assert review_history(engine, dialog.stored.id) == []

    form.defect_class.setText("crack")
    form.note.setText("customer return 4711")
    review = form.record()
    assert review is not None and form.message.text().startswith("stored:")
    stored = review_history(engine, dialog.stored.id)
    assert [(r.decision, r.defect_class, r.reviewer, r.note) for r in stored] == [
        (ReviewDecision.RECLASSIFY, "crack", "qa-anna", "customer return 4711")
    ]
    assert dialog.review_table.rowCount() == 1
    assert dialog.review_table.item(0, 2).text() == "reclassify"
    dialog.close()

    rejected = view.open_row(9)  # part 2990: rejected; its class is offered
    assert rejected.stored.verdict is Verdict.REJECT and rejected.review_form is not None
    assert rejected.review_form.defect_class.text() == "scratch"
    assert rejected.review_form.record() is not None
    confirmed = review_history(engine, rejected.stored.id)[-1]
    assert (confirmed.decision, confirmed.defect_class) == (ReviewDecision.CONFIRM, "scratch")
    rejected.close()
    engine.dispose()


def test_without_a_signed_in_reviewer_the_dialog_only_shows(view) -> None:
    dialog = view.open_row(0)
    assert dialog.review_form is None
    dialog.close()
