"""Screenshots of the real main window on the demo line (run under Xvfb: `make screenshots`).

Starts Xvfb itself when no display is set, runs the window on the demo line for a
few seconds, and saves the window, one enlarged reject and the Review tab (after
one part was taught to the model as OK) as PNGs. The model is a copy of the demo
model in a temporary folder, so the lesson's new version is written there.
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
    """Save ``main_window.png``, ``reject_detail.png`` and ``review.png`` into the folder given."""
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    server = _ensure_display()
    os.environ.pop("QT_QPA_PLATFORM", None)
    try:
        from PySide6.QtCore import QEventLoop, QSettings, QTimer
        from PySide6.QtWidgets import QApplication

        from inspector.pipeline.line import DEFAULT_MODEL_DIR, LineSettings
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
        window.close()
        print(f"screenshots saved in {out}")
    finally:
        if server is not None:
            server.terminate()


if __name__ == "__main__":
    main()
