"""Starting the GUI: application object, style, main window."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from inspector.pipeline.line import LineSettings
from inspector.resources_path import resource_path
from inspector.ui.main_window import MainWindow

STYLE_SHEET = resource_path("style.qss")
ICON = resource_path("inspector.png")


def has_display() -> bool:
    """Whether Qt can open a window here (a display, or a platform chosen explicitly)."""
    if sys.platform != "linux":
        return True
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def apply_style(app: QApplication) -> None:
    """Use the shipped style sheet and icon when they are there (a checkout or a bundle)."""
    if STYLE_SHEET.is_file():
        app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))
    if ICON.is_file():
        app.setWindowIcon(QIcon(str(ICON)))


def run_app(
    settings: LineSettings,
    *,
    actuator_factory: Callable | None = None,
    smoke_test: bool = False,
    station_file: Path | None = None,
) -> int:
    """Open the main window and start the line on ``settings.source``.

    ``station_file`` (the ``--config`` the line was started from) is opened in
    the Station tab, so an engineer edits the file the line really runs on.

    With ``smoke_test`` the window closes by itself once a few parts were shown
    (exit code 0) or a minute passed (1): :mod:`inspector.ui.smoke_test`.
    """
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
    if station_file is not None:
        window.station_editor.open_file(station_file)
    window.show()
    window.start_line()
    if smoke_test:
        from inspector.ui.smoke_test import arm_smoke_test

        arm_smoke_test(app, window)
    return app.exec()
