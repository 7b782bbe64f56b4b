"""The station editor and zone drawer, driven with pytest-qt mouse and key events.

Real files throughout: a copy of the shipped sample station file, a PNG
reference image, a SQLite audit log. The round trip is the one an engineer
makes: drag zones on the image, set their rules, save, and the line's loader
and ``decide`` see exactly those zones.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from inspector.acquisition.demo_line import DemoLine
from inspector.core import Inspection, ModelOutput, Verdict
from inspector.decision import DecisionRules, decide
from inspector.decision.zones import Zone
from inspector.pipeline.line import LineSettings
from inspector.pipeline.station_config import load_station_config
from inspector.pipeline.station_file import backups_of
from inspector.storage.audit import audit_entries, verify_audit
from inspector.storage.engine import open_database
from inspector.storage.users import Role, add_user
from inspector.ui.main_window import MainWindow
from inspector.ui.station_editor import StationEditor

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "station.toml"
WIDTH, HEIGHT = 200, 100  # the reference image; the canvas shows it at twice that size


@pytest.fixture
def engine(tmp_path):
    engine = open_database(tmp_path / "line.db")
    yield engine
    engine.dispose()


@pytest.fixture
def station(tmp_path) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


@pytest.fixture
def reference(tmp_path) -> Path:
    image = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    cv2.rectangle(image, (10, 5), (60, 30), (230, 230, 230), -1)  # a label on the part
    path = tmp_path / "reference.png"
    assert cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def editor(qtbot, engine, station, reference):
    widget = StationEditor(
        audit_engine=lambda: engine, actor=lambda: "j.okafor", latest_frame=lambda: None
    )
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    assert widget.open_file(station)
    widget.pages.setCurrentWidget(widget.zones)
    assert widget.zones.open_image(reference)
    widget.zones.canvas.setFixedSize(2 * WIDTH, 2 * HEIGHT)
    qtbot.waitExposed(widget)
    return widget


def drag(qtbot, canvas, start: tuple[int, int], end: tuple[int, int]) -> None:
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*start))
    qtbot.mouseMove(canvas, QPoint((start[0] + end[0]) // 2, (start[1] + end[1]) // 2))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*end))


def type_name(qtbot, drawer, name: str) -> None:
    """Type into the name cell's editor that a new zone opens, as an engineer would."""
    [field] = [e for e in drawer.table.viewport().findChildren(QLineEdit) if e.isVisible()]
    assert field.hasFocus()
    field.selectAll()
    qtbot.keyClicks(field, name)
    qtbot.keyClick(field, Qt.Key.Key_Return)
    # The table commits the editor's text from its event loop, after the key.
    qtbot.waitUntil(lambda: name in [zone.name for zone in drawer.zones], timeout=2000)


def test_drawn_zones_are_saved_loaded_by_the_line_and_applied_by_decide(
    qtbot, editor, station, engine
):
    drawer = editor.zones
    assert drawer.canvas.image_rect().size().toTuple() == (2 * WIDTH, 2 * HEIGHT)
    # The label: widget (40, 20)-(200, 120) is image (20, 10)-(100, 60), dragged right to left.
    drag(qtbot, drawer.canvas, (200, 120), (40, 20))
    type_name(qtbot, drawer, "label")
    drawer.table.item(0, 1).setCheckState(Qt.CheckState.Checked)
    # A stricter area: image (120, 50)-(190, 90).
    drag(qtbot, drawer.canvas, (240, 100), (380, 180))
    type_name(qtbot, drawer, "sealing face")
    drawer.table.item(1, 2).setText("2.5")
    drawer.table.item(1, 3).setText("4")
    # A wrong value is refused and explained; the zone keeps its threshold.
    drawer.table.item(1, 2).setText("-1")
    assert "threshold must be a positive number" in drawer.message.text()
    assert drawer.table.item(1, 2).text() == "2.5"
    # A zone drawn by mistake: clicked on the image to select it, then deleted.
    drag(qtbot, drawer.canvas, (300, 10), (390, 60))
    assert len(drawer.zones) == 3
    QApplication.focusWidget().clearFocus()
    qtbot.mouseClick(drawer.canvas, Qt.MouseButton.LeftButton, pos=QPoint(350, 30))
    assert drawer.selected_row() == 2
    drawer.delete_button.click()

    drawn = (
        Zone("label", (0.1, 0.1, 0.4, 0.5), ignore=True),
        Zone("sealing face", (0.6, 0.5, 0.35, 0.4), threshold=2.5, min_defect_area_px=4),
    )
    assert drawer.zones == drawn
    assert editor.is_modified() and "[[decision.zones]]" in editor.text.toPlainText()
    editor.reason.setText("the supplier's label is not a defect")
    editor.save_button.click()
    assert "Saved station.toml" in editor.problems.toPlainText()
    assert not editor.is_modified()

    # The file keeps the sample's comments; the line's loader sees exactly the drawn zones.
    saved = station.read_text(encoding="utf-8")
    assert "# Zones with their own rules; box = [x, y, w, h]" in saved
    settings = load_station_config(station).line_settings()
    assert settings.zones == drawn
    rules = DecisionRules(
        threshold=1.0, review_margin=0.05, min_defect_area_px=16, zones=settings.zones
    )
    in_label = np.full((HEIGHT, WIDTH), 0.2, np.float32)
    in_label[20:40, 30:60] = 3.0  # a bright blob inside the ignored label
    assert decide(ModelOutput(3.0, in_label), rules)[0] is Verdict.ACCEPT
    assert decide(ModelOutput(3.0, in_label), DecisionRules(threshold=1.0))[0] is Verdict.REJECT
    on_face = np.full((HEIGHT, WIDTH), 0.2, np.float32)
    on_face[60:80, 130:150] = 2.0  # over the station's 1.0, under the face's own 2.5
    assert decide(ModelOutput(2.0, on_face), rules)[0] is Verdict.ACCEPT
    elsewhere = np.full((HEIGHT, WIDTH), 0.2, np.float32)
    elsewhere[70:90, 70:90] = 2.0
    assert decide(ModelOutput(2.0, elsewhere), rules)[0] is Verdict.REJECT

    [entry] = audit_entries(engine)
    assert (entry.actor, entry.reason) == ("j.okafor", "the supplier's label is not a defect")
    assert (
        '+name = "label"' in entry.new_value and "kept as station.toml.v0001.bak" in entry.old_value
    )
    assert backups_of(station)[0].read_text(encoding="utf-8") == SAMPLE.read_text(encoding="utf-8")
    assert verify_audit(engine).ok
    # Zones read back from the saved text show again in the table.
    assert editor.reload() is None and editor.zones.zones == drawn
    assert editor.zones.table.item(0, 0).text() == "label"


def test_an_invalid_file_is_refused_with_every_problem_and_nothing_changes(
    qtbot, editor, station, engine
):
    before = station.read_text(encoding="utf-8")
    editor.pages.setCurrentWidget(editor.text)
    editor.text.setPlainText(
        "[decision]\nthreshold = -1\n[camera]\nsorce = 'demo'\n[actuator]\nkind = 'plc'\n"
    )
    editor.reason.setText("try")
    editor.validate_button.click()
    problems = editor.problems.toPlainText()
    assert "decision.threshold = -1" in problems
    assert "camera.sorce: unknown key" in problems
    assert "actuator.kind = 'plc'" in problems
    editor.save_button.click()
    assert station.read_text(encoding="utf-8") == before
    assert backups_of(station) == [] and audit_entries(engine) == []
    assert "modified, not saved" in editor.file_label.text()


def test_the_editor_says_a_running_line_needs_a_restart_and_saves_need_a_reason(
    qtbot, editor, station
):
    assert "running line keeps the settings" in editor.note.text()
    assert "start it again with this file" in editor.note.text()
    editor.pages.setCurrentWidget(editor.text)
    editor.text.setPlainText(editor.text.toPlainText().replace("station-1", "press-4"))
    assert editor.validate()
    assert "'press-4'" in editor.problems.toPlainText()
    editor.save_button.click()
    assert "say why" in editor.problems.toPlainText()
    assert 'name = "station-1"' in station.read_text(encoding="utf-8")
    station.write_text("[station]\nname = 'edited elsewhere'\n", encoding="utf-8")
    editor.reason.setText("rename")
    editor.save_button.click()
    assert "changed on disk since it was opened" in editor.problems.toPlainText()
    assert "edited elsewhere" in station.read_text(encoding="utf-8")


def test_a_text_whose_zones_cannot_be_drawn_is_explained_on_the_zones_page(qtbot, editor):
    editor.pages.setCurrentWidget(editor.text)
    editor.text.setPlainText('[[decision.zones]]\nname = "a"\nbox = [0.9, 0.1, 0.5, 0.1]\n')
    editor.pages.setCurrentWidget(editor.zones)
    assert "decision.zones.0 is invalid" in editor.zones.message.text()
    # Drawing is locked, so the engineer's zone text cannot be overwritten by a drag.
    assert not editor.zones.canvas.isEnabled() and not editor.zones.table.isEnabled()
    drag(qtbot, editor.zones.canvas, (10, 10), (100, 100))
    assert "box = [0.9, 0.1, 0.5, 0.1]" in editor.text.toPlainText()
    editor.pages.setCurrentWidget(editor.text)
    editor.text.setPlainText('[[decision.zones]]\nname = "a"\nbox = [0.5, 0.1, 0.5, 0.1]\n')
    editor.pages.setCurrentWidget(editor.zones)
    assert editor.zones.canvas.isEnabled()
    assert editor.zones.zones == (Zone("a", (0.5, 0.1, 0.5, 0.1)),)
    assert editor.zones.use_latest_frame() is False
    assert "No live frame yet" in editor.zones.message.text()
    assert editor.zones.open_image(Path("/nonexistent/part.png")) is False


def test_the_main_window_has_the_editor_wired_to_the_line_database_and_live_frame(
    qtbot, tmp_path, station
):
    settings = LineSettings(database=tmp_path / "window.db")
    window = MainWindow(settings)
    qtbot.addWidget(window)
    # Saving the station file needs an engineer's login (the window asks otherwise).
    add_user(window.qa_tabs.storage()[0], "a.lind", Role.ENGINEER, "engineer-pw", actor="admin")
    assert window.access.session().login("a.lind", "engineer-pw") is not None
    tabs = [window.tabs.tabText(index) for index in range(window.tabs.count())]
    assert "Station" in tabs
    window.tabs.setCurrentIndex(tabs.index("Station"))
    editor = window.station_editor
    assert editor.open_file(station)
    assert editor.zones.use_latest_frame() is False
    with DemoLine(rate_hz=0, seed=2, max_parts=1) as line:
        [frame] = list(line)
    window.latest = Inspection(frame, Verdict.ACCEPT, 0.1, 1.0, (), None, "m", "r", 1.0, 2.0)
    assert editor.zones.use_latest_frame()
    assert editor.zones.canvas.image_size().toTuple() == (
        frame.image.shape[1],
        frame.image.shape[0],
    )
    editor.text.setPlainText(
        editor.text.toPlainText().replace("keep_good_every = 50", "keep_good_every = 20")
    )
    editor.reason.setText("keep more good images for the audit")
    saved = editor.save()
    assert saved is not None and saved.config.storage.keep_good_every == 20
    engine, _ = window.qa_tabs.storage()
    entry = audit_entries(engine)[-1]
    assert (entry.actor, entry.action) == ("a.lind", "station.config")
    assert "+keep_good_every = 20" in entry.new_value
    # The running line's settings are not touched by saving.
    assert window.runner.settings == settings
    window.close()
