"""The review queue driven by the keyboard, on a real SQLite file, as a QA engineer uses it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from inspector.core import Defect, Verdict
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections, get_inspection
from inspector.storage.reviews import ReviewDecision, review_history
from inspector.ui.review_view import REVIEWER_KEY, ReviewView
from tests.records import new_record

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
CLASSES = ("scratch", "spot", "crack")
QUEUED = 40  # rejects and REVIEW parts, each with an image


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """40 queued parts (every 4th REVIEW, the rest rejected) between 40 accepted ones."""
    path = tmp_path / "data" / "inspections.db"
    engine = open_database(path)
    store = ImageStore.beside(path)
    rng = np.random.default_rng(1)
    records = []
    for i in range(2 * QUEUED):
        when = T0 + timedelta(minutes=i)
        queued = i % 2 == 1
        verdict = (Verdict.REVIEW if i % 8 == 1 else Verdict.REJECT) if queued else Verdict.ACCEPT
        image = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
        records.append(
            new_record(
                captured_at=when,
                station="line-1",
                part_id=i,
                verdict=verdict,
                score=0.8 if queued else 0.2,
                image_path=store.save(
                    image, captured_at=when, station="line-1", part_id=i, verdict=verdict
                ),
                defects=(Defect("scratch", 0.9, (10, 10, 20, 20), 300),) if queued else (),
            )
        )
    add_inspections(engine, records)
    engine.dispose()
    return path


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def view(qtbot, db: Path, settings: QSettings):
    engine = open_database(db)
    widget = ReviewView(engine, ImageStore.beside(db), classes=CLASSES, settings=settings)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    engine.dispose()


def _sign_in(qtbot, view: ReviewView, name: str = "a.meyer") -> None:
    view.reviewer.setFocus()
    qtbot.keyClicks(view.reviewer, name)
    qtbot.keyClick(view.reviewer, Qt.Key.Key_Return)


def test_queue_is_rejects_and_review_newest_first_with_the_image(view: ReviewView) -> None:
    assert len(view.items) == QUEUED
    assert {p.verdict for p in view.items} == {Verdict.REJECT, Verdict.REVIEW}
    times = [p.captured_at for p in view.items]
    assert times == sorted(times, reverse=True)
    assert view.editor.has_image()
    assert view.picked_class == "scratch"  # the machine's class, preselected
    assert view.class_list.currentRow() == 0


def test_the_reviewer_is_asked_once_and_remembered(qtbot, view, db, settings) -> None:
    first = view.current
    qtbot.keyClick(view, Qt.Key.Key_C)
    assert "user name" in view.message.text()
    assert review_history(view.engine, first.id) == []
    _sign_in(qtbot, view)
    assert settings.value(REVIEWER_KEY) == "a.meyer"
    again = ReviewView(view.engine, view.image_store, classes=CLASSES, settings=settings)
    qtbot.addWidget(again)
    assert again.reviewer.text() == "a.meyer"


def test_keyboard_decisions_are_stored_and_the_verdict_is_untouched(qtbot, view) -> None:
    _sign_in(qtbot, view)
    confirmed, overruled, reclassified = view.items[:3]

    qtbot.keyClick(view, Qt.Key.Key_C)  # the machine's class, scratch
    assert view.current is overruled  # the next part appears at once
    qtbot.keyClick(view, Qt.Key.Key_G)
    assert view.current is reclassified
    qtbot.keyClick(view, Qt.Key.Key_R)  # no class picked: refused with a hint
    assert "1–9" in view.message.text()
    assert view.current is reclassified
    qtbot.keyClick(view, Qt.Key.Key_3)
    qtbot.keyClick(view, Qt.Key.Key_R)
    relabelled = view.current
    qtbot.keyClick(view, Qt.Key.Key_2)  # spot, not the machine's scratch: C reclassifies
    assert "Reclassify as spot" in view.confirm_button.text()
    qtbot.keyClick(view, Qt.Key.Key_C)

    expected = {
        confirmed.id: (ReviewDecision.CONFIRM, "scratch"),
        relabelled.id: (ReviewDecision.RECLASSIFY, "spot"),
        overruled.id: (ReviewDecision.FALSE_REJECT, None),
        reclassified.id: (ReviewDecision.RECLASSIFY, "crack"),
    }
    for part_id, (decision, defect_class) in expected.items():
        (review,) = review_history(view.engine, part_id)
        assert (review.decision, review.defect_class, review.reviewer) == (
            decision,
            defect_class,
            "a.meyer",
        )
        stored = get_inspection(view.engine, part_id)
        original = next(p for p in view.items if p.id == part_id)
        assert stored.verdict is original.verdict  # the machine's verdict never changes


def test_previous_and_next_step_without_deciding_and_a_new_decision_appends(qtbot, view):
    _sign_in(qtbot, view)
    first = view.current
    qtbot.keyClick(view, Qt.Key.Key_G)
    qtbot.keyClick(view, Qt.Key.Key_Right)  # skip the second part
    assert view.current is view.items[2]
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.current is first
    assert "false reject" in view.facts.text()  # what was decided is shown
    qtbot.keyClick(view, Qt.Key.Key_C)  # changed my mind: a scratch after all
    history = review_history(view.engine, first.id)
    assert [r.decision for r in history] == [ReviewDecision.FALSE_REJECT, ReviewDecision.CONFIRM]
    assert review_history(view.engine, view.items[1].id) == []  # skipped, not reviewed


def test_twenty_reviews_by_keyboard_take_well_under_a_minute(qtbot, view) -> None:
    _sign_in(qtbot, view)
    started = time.perf_counter()
    reviewed = []
    for i in range(20):
        reviewed.append(view.current.id)
        qtbot.keyClick(view, Qt.Key.Key_G if i % 3 == 0 else Qt.Key.Key_Return)
        qtbot.wait(1)  # let the next image be prepared, as between real key presses
    elapsed = time.perf_counter() - started
    assert elapsed < 6.0, f"20 reviews took {elapsed:.1f} s"
    assert all(len(review_history(view.engine, i)) == 1 for i in reviewed)
    assert "20 reviewed" in view.progress.text()


def test_the_queue_empties_and_reviewed_parts_leave_it(qtbot, view) -> None:
    _sign_in(qtbot, view)
    for _ in range(QUEUED):
        qtbot.keyClick(view, Qt.Key.Key_C)
    assert view.current is None
    assert "Queue empty" in view.progress.text()
    view.reload()
    assert view.current is None


def test_export_of_the_reviewed_dataset(qtbot, view, tmp_path) -> None:
    _sign_in(qtbot, view)
    qtbot.keyClick(view, Qt.Key.Key_G)
    qtbot.keyClick(view, Qt.Key.Key_C)
    result = view.export_dataset(tmp_path / "dataset")
    assert result.per_class == {"good": 1, "scratch": 1}
    assert (tmp_path / "dataset" / "manifest.csv").is_file()
