"""Screenshots of the real main window on the demo line (run under Xvfb: `make screenshots`).

Starts Xvfb itself when no display is set, runs the window on the demo line for a
few seconds, and saves the window, one enlarged reject and the Review tab (after
one part was taught to the model as OK) as PNGs. The model is a copy of the demo
model in a temporary folder, so the lesson's new version is written there. The
Station tab is shot on a copy of the sample station file: zones drawn on the
latest live frame, then the file's text after a Validate. Last, the window on
demo parts whose lamp dims halfway (the lighting alarm), and the Reports tab on
two weeks of a station whose lamp starts dimming (the lighting chart).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _ensure_display() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        sys.exit("Xvfb is not installed: run `installer/install-system-deps.sh --xvfb`")
    server = subprocess.Popen([xvfb, ":99", "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
    os.environ["DISPLAY"] = ":99"
    time.sleep(1.0)
    return server


def main() -> None:
    """Save the window, a reject, the Review tab and a drawn correction as PNGs in a folder."""
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    server = _ensure_display()
    os.environ.pop("QT_QPA_PLATFORM", None)
    try:
        from PySide6.QtCore import QEventLoop, QSettings, QTimer
        from PySide6.QtWidgets import QApplication

        from inspector.pipeline.line import DEFAULT_MODEL_DIR, LineSettings
        from inspector.storage.users import Role, add_user
        from inspector.ui.app import apply_style
        from inspector.ui.main_window import MainWindow
        from inspector.ui.review_view import REVIEWER_KEY

        app = QApplication(sys.argv[:1])
        apply_style(app)
        scratch = Path(tempfile.mkdtemp())
        model = scratch / "models" / "demo-line"
        shutil.copytree(DEFAULT_MODEL_DIR, model)
        settings = LineSettings(
            database=scratch / "screens.db", model_dir=model, seed=5, defect_rate=0.35
        )
        window = MainWindow(settings)
        window.reviewer_settings = QSettings(
            str(scratch / "settings.ini"), QSettings.Format.IniFormat
        )
        window.reviewer_settings.setValue(REVIEWER_KEY, "j.okafor")
        # Teaching, saving the station file and model actions ask for a login: be logged in.
        engine = window.qa_tabs.storage()[0]
        add_user(engine, "a.lind", Role.ENGINEER, "engineer-pw", actor="a.lind")
        window.access.session().login("a.lind", "engineer-pw")
        window.access.changed.emit()  # the status bar shows who is logged in
        window.resize(1360, 860)
        window.show()
        window.start_line()

        def pump(seconds: float) -> None:
            loop = QEventLoop()
            QTimer.singleShot(int(seconds * 1000), loop.quit)
            loop.exec()

        pump(12.0)
        window.grab().save(str(out / "main_window.png"))
        if window.rejects.count():
            dialog = window.open_inspection(window.rejects.item(0).data(256))
            pump(1.0)
            dialog.grab().save(str(out / "reject_detail.png"))
            dialog.close()
        window.stop_line()
        names = [window.tabs.tabText(index) for index in range(window.tabs.count())]
        window.tabs.setCurrentIndex(names.index("Review"))
        pump(1.0)
        review = window.qa_tabs.view("Review")
        review.teach_panel.teach()
        for _ in range(120):  # the lesson runs on a worker thread
            pump(0.5)
            if not window.teacher.busy:
                break
        pump(1.0)
        window.grab().save(str(out / "review.png"))
        if _draw_correction(review):
            pump(0.5)
            window.grab().save(str(out / "review_correction.png"))
        _station_screens(window, scratch, out, pump)
        _models_screen(window, scratch, out, pump)
        window.close()
        _lighting_screen(scratch, out, pump)
        _reports_screen(scratch, out, pump)
        print(f"screenshots saved in {out}")
    finally:
        if server is not None:
            server.terminate()


def _station_screens(window, scratch: Path, out: Path, pump) -> None:  # noqa: ANN001
    """``station_zones.png`` and ``station_editor.png``: zones drawn on the last live frame."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QLineEdit

    sample = Path(__file__).resolve().parents[1] / "resources" / "station.toml"
    station = scratch / "station.toml"
    text = sample.read_text(encoding="utf-8")
    station.write_text(text.replace("../models/demo-line", "models/demo-line"), encoding="utf-8")
    window.tabs.setCurrentWidget(window.station_editor)
    editor = window.station_editor
    editor.open_file(station)
    drawer = editor.zones
    editor.pages.setCurrentWidget(drawer)
    drawer.use_latest_frame()
    size = drawer.canvas.image_size()
    w, h = size.width(), size.height()
    zones = [
        (((0, 0), (0.22 * w, 0.16 * h)), "label", True, "", ""),
        (((0.3 * w, 0.3 * h), (0.7 * w, 0.7 * h)), "sealing face", False, "20", "4"),
        (((0.78 * w, 0.82 * h), (w, h)), "fixture", True, "", ""),
    ]
    for row, (corners, name, ignore, threshold, area) in enumerate(zones):
        drawer.add_drawn(*corners)  # what a drag on the image does
        [name_field] = [  # the name cell opens for typing
            e for e in drawer.table.viewport().findChildren(QLineEdit) if e.isVisible()
        ]
        name_field.setText(name)
        QTest.keyClick(name_field, Qt.Key.Key_Return)
        pump(0.2)
        if ignore:
            drawer.table.item(row, 1).setCheckState(Qt.CheckState.Checked)
        drawer.table.item(row, 2).setText(threshold)
        drawer.table.item(row, 3).setText(area)
    drawer.select(1)
    editor.reason.setText("mask the supplier's label and the fixture")
    pump(1.0)
    window.grab().save(str(out / "station_zones.png"))
    editor.pages.setCurrentWidget(editor.text)
    editor.text.moveCursor(editor.text.textCursor().MoveOperation.End)  # zones at the top
    editor.text.setTextCursor(editor.text.document().find("# Zones with their own rules"))
    editor.validate()
    pump(1.0)
    window.grab().save(str(out / "station_editor.png"))


def _lighting_screen(scratch: Path, out: Path, pump) -> None:  # noqa: ANN001
    """``lighting_alarm.png``: a folder of demo parts whose lamp dims to 45 % halfway."""
    import cv2
    import numpy as np

    from inspector.acquisition.demo_line import DemoLine
    from inspector.pipeline.line import DEFAULT_MODEL_DIR, LineSettings
    from inspector.ui.main_window import MainWindow

    folder = scratch / "dimming"
    folder.mkdir()
    with DemoLine(rate_hz=0, defect_rate=0.0, seed=7, max_parts=40) as line:
        for index, frame in enumerate(line):
            image = frame.image if index < 20 else (frame.image * 0.45).astype(np.uint8)
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(folder / f"part_{index:03d}.png"), bgr)
    settings = LineSettings(
        source=str(folder), database=scratch / "dimming.db", model_dir=DEFAULT_MODEL_DIR, rate_hz=8
    )
    window = MainWindow(settings)
    window.resize(1360, 860)
    window.show()
    window.start_line()
    pump(8.0)
    window.grab().save(str(out / "lighting_alarm.png"))
    window.stop_line()
    window.close()


def _reports_screen(scratch: Path, out: Path, pump) -> None:  # noqa: ANN001
    """``reports.png``: two weeks of a station (300 parts a day, 3 % rejects) whose lamp
    starts dimming on day ten: the lighting chart's alarm."""
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from inspector.core import Defect, Verdict
    from inspector.core.shifts import ShiftCalendar
    from inspector.storage.engine import open_database
    from inspector.storage.image_store import ImageStore
    from inspector.storage.repository import NewRecord, add_inspections
    from inspector.ui.reports_view import ReportsView

    rng = np.random.default_rng(1)
    start, records = datetime(2026, 5, 4, tzinfo=UTC), []
    for day in range(14):
        for i in range(300):
            bad = rng.uniform() < 0.03
            records.append(
                NewRecord(
                    captured_at=start + timedelta(days=day, minutes=4.8 * i),
                    station="line-1",
                    camera_id="cam0",
                    part_id=day * 300 + i,
                    verdict=Verdict.REJECT if bad else Verdict.ACCEPT,
                    score=0.9 if bad else float(rng.normal(0.3, 0.03)),
                    threshold=0.5,
                    model_version="demo",
                    rules_version="r-1",
                    inference_ms=20.0,
                    latency_ms=30.0,
                    error=None,
                    image_path=None,
                    defects=(Defect("scratch", 0.9, (1, 1, 4, 4), 9),) if bad else (),
                    grey_mean=float(rng.normal(121.0 - 1.2 * max(0, day - 9), 2.5)),
                    grey_spread=30.0,
                )
            )
    database = scratch / "reports.db"
    engine = open_database(database)
    add_inspections(engine, records)
    view = ReportsView(engine, ImageStore.beside(database), calendar=ShiftCalendar(tz=UTC))
    view.resize(1480, 930)
    view.show()
    view.set_period(start, start + timedelta(days=14))
    view.bucket.setCurrentText("per day")
    pump(1.5)
    view.grab().save(str(out / "reports.png"))
    view.close()
    engine.dispose()


def _models_screen(window, scratch: Path, out: Path, pump) -> None:  # noqa: ANN001
    """``models.png``: a real training run's curves, a real comparison, a live shadow run.

    The labelled folder is demo-line parts named after their first true
    defect. The lesson in the Review tab promoted the taught model, so the
    model before it is the candidate compared on those parts and then run in
    shadow on the demo line for a few seconds.
    """
    import cv2

    from inspector.acquisition.demo_line import DemoLine

    labelled = scratch / "labelled"
    line = DemoLine(rate_hz=0, defect_rate=0.5, seed=11)
    for n in range(40):
        image, truth = line.render()
        folder = labelled / (truth[0].kind if truth else "good")
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"part_{n:03d}.png"), image[:, :, ::-1])
    window.tabs.setCurrentWidget(window.models_view)
    view = window.models_view
    training, compare, shadow = view.training, view.compare, view.shadow
    training.data.setText(str(labelled))
    training.out.setText(str(scratch / "models" / "classifier"))
    training.image_size.setValue(96)
    training.head_epochs.setValue(30)
    training.epochs.setValue(0)
    training.start()
    for _ in range(240):
        pump(0.5)
        if not training.process.running:
            break
    # The lesson in the Review tab promoted the taught model: compare the one before it.
    compare.candidate.setText(str(scratch / "models" / "demo-line"))
    compare.data.setText(str(labelled))
    compare.refresh()
    compare.compare()
    for _ in range(240):
        pump(0.5)
        if not compare.process.running:
            break
    shadow.reason.setText("keep the model before the lesson in view")
    shadow.start_shadow()
    window.start_line()  # a line applies a shadow run at its start
    pump(10.0)
    window.stop_line()
    shadow.refresh()
    compare.reason.setText("no new escapes on the demo parts")
    pump(1.0)
    window.grab().save(str(out / "models.png"))


def _draw_correction(review) -> bool:  # noqa: ANN001 - a ReviewView, imported late
    """Draw, with mouse events, what a reviewer would around the shown part's first defect."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    part, editor = review.current, review.editor
    if part is None or not part.defects or editor.correction is None:
        return False
    x, y, w, h = part.defects[0].box

    def drag(points: list[tuple[float, float]]) -> None:
        spots = [editor.image_to_widget(point).toPoint() for point in points]
        QTest.mousePress(editor, Qt.MouseButton.LeftButton, pos=spots[0])
        for spot in spots[1:]:
            QTest.mouseMove(editor, spot)
        QTest.mouseRelease(editor, Qt.MouseButton.LeftButton, pos=spots[-1])

    QTest.keyClick(review, Qt.Key.Key_B)
    drag([(x - 6, y - 6), (x + w + 6, y + h + 6)])
    QTest.keyClick(review, Qt.Key.Key_M)
    drag([(x + 0.2 * w, y + 0.3 * h), (x + 0.5 * w, y + 0.45 * h), (x + 0.8 * w, y + 0.7 * h)])
    QTest.mouseMove(editor, editor.image_to_widget((x + 0.9 * w, y + 0.8 * h)).toPoint())
    return True


if __name__ == "__main__":
    main()
