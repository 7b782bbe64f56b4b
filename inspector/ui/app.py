"""Starting the GUI: application object, style, main window."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QApplication

from inspector.pipeline.line import LineSettings
from inspector.ui.main_window import MainWindow

STYLE_SHEET = Path(__file__).resolve().parents[2] / "resources" / "style.qss"


def has_display() -> bool:
    """Whether Qt can open a window here (a display, or a platform chosen explicitly)."""
    if sys.platform != "linux":
        return True
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def apply_style(app: QApplication) -> None:
    """Use the shipped style sheet when it is there (a source checkout or an install)."""
    if STYLE_SHEET.is_file():
        app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))


def run_app(settings: LineSettings, *, actuator_factory: Callable | None = None) -> int:
    """Open the main window and start the line on ``settings.source``."""
    if not has_display():
        print(
            "error: no display to open the window on. Run `inspector run --headless` for a "
            "line without a window, or start it under a virtual display: `xvfb-run inspector`.",
            file=sys.stderr,
        )
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Inspector")
    apply_style(app)
    window = MainWindow(settings, actuator_factory=actuator_factory)
    window.show()
    window.start_line()
    return app.exec()
