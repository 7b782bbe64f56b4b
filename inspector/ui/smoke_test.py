"""``inspector gui --smoke-test``: open the window, see parts go by, close, exit.

An installed bundle has no test suite beside it. This checks the whole GUI
path of an install in one command (Qt platform plugin, style, model loading,
the line, the live view) and answers with the exit code, so the installer test
and an engineer at a new line PC can run it without a display
(``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from inspector.ui.main_window import MainWindow

#: Parts the live view must show before the smoke test passes.
SMOKE_TEST_PARTS = 3
#: How long the line may take to show them (model loading included).
SMOKE_TEST_TIMEOUT_S = 60.0
_POLL_MS = 200


def arm_smoke_test(
    app: QApplication,
    window: MainWindow,
    *,
    parts: int = SMOKE_TEST_PARTS,
    timeout_s: float = SMOKE_TEST_TIMEOUT_S,
) -> QTimer:
    """Make ``app.exec()`` return 0 once ``window`` showed ``parts`` parts, else 1 at the timeout.

    The window is closed first (the line stops and its records are written), and
    on failure the window's alarms are printed so the reason is not lost.
    """
    started = time.monotonic()
    timer = QTimer(window)

    def finish(code: int) -> None:
        timer.stop()
        app.setQuitOnLastWindowClosed(False)  # the exit code below is the one returned
        window.close()
        app.exit(code)

    def poll() -> None:
        if window.shown >= parts:
            print(f"smoke test passed: the window showed {window.shown} parts")
            finish(0)
        elif time.monotonic() - started > timeout_s:
            alarms = [window.alarms.item(row).text() for row in range(window.alarms.count())]
            print(
                f"smoke test FAILED: the window showed {window.shown} of {parts} parts in "
                f"{timeout_s:.0f} s; alarms: {'; '.join(alarms) or 'none'}",
                file=sys.stderr,
            )
            finish(1)

    timer.timeout.connect(poll)
    timer.start(_POLL_MS)
    return timer
