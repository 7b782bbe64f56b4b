"""Correcting the defect region in the Review tab: a box and a brush stroke drawn with the mouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from sqlalchemy import text

from inspector.core import Defect, Verdict
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections
from inspector.storage.review_masks import load_review_mask
from inspector.storage.reviews import ReviewDecision, review_history
from inspector.ui.region_editor import DrawMode
from inspector.ui.review_view import ReviewView
from tests.records import new_record

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
HEIGHT, WIDTH = 60, 80  # the stored images


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Three rejected parts with images, each with one machine defect (a scratch)."""
    path = tmp_path / "data" / "inspections.db"
    engine = open_database(path)
    store = ImageStore.beside(path)
    rng = np.random.default_rng(7)
    records = []
    for i in range(3):
        when = T0 + timedelta(minutes=i)
        image = rng.integers(60, 200, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        records.append(
            new_record(
                captured_at=when,
                part_id=i,
                verdict=Verdict.REJECT,
                score=0.9,
                image_path=store.save(
                    image, captured_at=when, station="line-1", part_id=i, verdict="reject"
                ),
                defects=(Defect("scratch", 0.9, (50, 30, 20, 20), 400),),
            )
        )
    add_inspections(engine, records)
    engine.dispose()
    return path


@pytest.fixture
def view(qtbot, db: Path, tmp_path: Path):
    engine = open_database(db)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("review/reviewer", "a.meyer")
    widget = ReviewView(
        engine, ImageStore.beside(db), classes=("scratch", "crack"), settings=settings
    )
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    qtbot.waitExposed(widget)
    widget.setFocus()
    yield widget
    engine.dispose()


def _at(view: ReviewView, x: float, y: float) -> QPoint:
    """The canvas position of image pixel (x, y)."""
    return view.editor.image_to_widget((x, y)).toPoint()


def _drag(qtbot, view: ReviewView, points: list[tuple[float, float]]) -> None:
    editor = view.editor
    qtbot.mousePress(editor, Qt.MouseButton.LeftButton, pos=_at(view, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(editor, _at(view, *point))
    qtbot.mouseRelease(editor, Qt.MouseButton.LeftButton, pos=_at(view, *points[-1]))


def test_a_box_and_a_brush_stroke_are_saved_with_the_review(qtbot, view: ReviewView) -> None:
    part = view.current
    with view.engine.connect() as connection:
        machine_before = connection.execute(text("SELECT * FROM inspections")).all()
        defects_before = connection.execute(text("SELECT * FROM defects")).all()

    qtbot.keyClick(view, Qt.Key.Key_B)
    assert view.editor.mode is DrawMode.BOX
    _drag(qtbot, view, [(10, 8), (20, 14), (30, 22)])
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert view.editor.mode is DrawMode.BRUSH
    brush = view.editor.correction.brush
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.editor.correction.brush > brush
    _drag(qtbot, view, [(40, 45), (55, 45), (70, 45)])
    assert "Correction: box " in view.editor.hint()  # ±1 px: mouse positions are whole pixels
    assert "mask" in view.editor.hint()

    qtbot.keyClick(view, Qt.Key.Key_C)  # confirm the machine's class, with the correction

    [review] = review_history(view.engine, part.id)
    assert (review.decision, review.defect_class, review.reviewer) == (
        ReviewDecision.CONFIRM,
        "scratch",
        "a.meyer",
    )
    x, y, w, h = review.box
    assert max(abs(x - 10), abs(y - 8), abs(w - 20), abs(h - 14)) <= 1
    mask = load_review_mask(view.image_store, review.mask_path)
    assert mask.shape == (HEIGHT, WIDTH)
    assert mask[45, 40:71].min() == 255  # along the stroke
    assert mask[10, 10] == 0 and mask[45, 10] == 0  # the box is not painted into the mask
    assert set(np.unique(mask)) == {0, 255}
    with view.engine.connect() as connection:  # the machine's record is untouched
        assert connection.execute(text("SELECT * FROM inspections")).all() == machine_before
        assert connection.execute(text("SELECT * FROM defects")).all() == defects_before
    assert view.current is not part and view.editor.correction.is_empty  # next part, fresh


def test_escape_clears_and_the_eraser_removes_paint(qtbot, view: ReviewView) -> None:
    qtbot.keyClick(view, Qt.Key.Key_M)
    _drag(qtbot, view, [(10, 30), (70, 30)])
    assert view.editor.correction.mask[30, 40] == 255
    qtbot.keyClick(view, Qt.Key.Key_E)
    assert view.editor.erasing and "ERASER" in view.editor.hint()
    _drag(qtbot, view, [(35, 20), (35, 40)])
    assert view.editor.correction.mask[30, 35] == 0
    assert view.editor.correction.mask[30, 15] == 255
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.editor.correction.is_empty
    qtbot.keyClick(view, Qt.Key.Key_M)  # M again: back to looking; a drag draws nothing
    assert view.editor.mode is DrawMode.VIEW
    _drag(qtbot, view, [(10, 30), (70, 30)])
    assert view.editor.correction.is_empty


def test_a_good_part_cannot_carry_a_region(qtbot, view: ReviewView) -> None:
    part = view.current
    qtbot.keyClick(view, Qt.Key.Key_B)
    _drag(qtbot, view, [(5, 5), (25, 25)])
    qtbot.keyClick(view, Qt.Key.Key_G)
    assert "Esc clears it" in view.message.text()
    assert review_history(view.engine, part.id) == []
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    qtbot.keyClick(view, Qt.Key.Key_G)
    [review] = review_history(view.engine, part.id)
    assert (review.decision, review.box, review.mask_path) == (
        ReviewDecision.FALSE_REJECT,
        None,
        None,
    )


def test_a_signed_in_actor_replaces_the_name_field(qtbot, db: Path, tmp_path: Path) -> None:
    engine = open_database(db)
    signed_in: list[str | None] = [None]
    settings = QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat)
    view = ReviewView(engine, ImageStore.beside(db), settings=settings, actor=lambda: signed_in[0])
    qtbot.addWidget(view)
    view.show()
    part = view.current
    assert not view.reviewer.isVisible()
    qtbot.keyClick(view, Qt.Key.Key_G)
    assert "Sign in first" in view.message.text()
    assert review_history(engine, part.id) == []
    signed_in[0] = "qa.kim"
    qtbot.keyClick(view, Qt.Key.Key_G)
    assert [r.reviewer for r in review_history(engine, part.id)] == ["qa.kim"]
    engine.dispose()


def test_canvas_and_image_coordinates_agree(view: ReviewView) -> None:
    view.editor.set_mode(DrawMode.BOX)
    corner = view.editor.image_to_widget((0, 0))
    far = view.editor.image_to_widget((WIDTH, HEIGHT))
    scale_x = (far.x() - corner.x()) / WIDTH
    scale_y = (far.y() - corner.y()) / HEIGHT
    assert scale_x == pytest.approx(scale_y)  # aspect ratio kept
    point = view.editor._image_point(
        QPointF(corner.x() + 20.5 * scale_x, corner.y() + 10 * scale_y)
    )
    assert point == pytest.approx((20.5, 10.0))
