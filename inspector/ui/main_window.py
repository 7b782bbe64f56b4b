"""The operator's window: live view with overlay, counters, last rejects, alarms."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from inspector.core.errors import InspectorError
from inspector.core.inspection import Inspection
from inspector.decision.actuator import Actuator
from inspector.overlay.compose import render_overlay
from inspector.pipeline.alarms import Alarm, Severity
from inspector.pipeline.line import LineSettings
from inspector.pipeline.runner import LineRunner
from inspector.ui.bridge import StationBridge
from inspector.ui.counters import CountersPanel
from inspector.ui.image_view import ImageView
from inspector.ui.inspection_dialog import InspectionDialog
from inspector.ui.qa_tabs import QaTabs
from inspector.ui.reject_strip import RejectStrip
from inspector.ui.source_bar import SourceBar
from inspector.ui.status_line import StatusLine

REFRESH_MS = 250
LIVE_SCALE = 2.0


class MainWindow(QMainWindow):
    """A thin view over a :class:`LineRunner`: it shows, it never computes verdicts."""

    def __init__(
        self,
        settings: LineSettings,
        parent: QWidget | None = None,
        *,
        actuator_factory: Callable[[], Actuator | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Inspector — live inspection")
        self.resize(1280, 800)
        self.bridge = StationBridge(self)
        self.runner = LineRunner(
            settings,
            listeners=[self.bridge.on_inspection],
            on_alarm=self.bridge.on_alarm,
            actuator_factory=actuator_factory,
        )
        self.shown = 0
        self.latest: Inspection | None = None

        self.source_bar = SourceBar()
        self.source_bar.set_source(settings.source)
        toolbar = QToolBar("Line")
        toolbar.setMovable(False)
        toolbar.addWidget(self.source_bar)
        self.addToolBar(toolbar)

        self.live = ImageView("Press Start to run the line")
        self.counters = CountersPanel()
        self.rejects = RejectStrip()
        self.alarms = QListWidget()
        self.alarms.setObjectName("alarms")
        self.unacknowledged = 0
        self.alarm_heading = _heading("Alarms")
        self.acknowledge_button = QPushButton("Acknowledge alarms")
        self.acknowledge_button.setEnabled(False)
        self.acknowledge_button.clicked.connect(self.acknowledge_alarms)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.counters)
        side_layout.addWidget(_heading("Last rejects (click to enlarge)"))
        side_layout.addWidget(self.rejects, 3)
        side_layout.addWidget(self.alarm_heading)
        side_layout.addWidget(self.alarms, 1)
        side_layout.addWidget(self.acknowledge_button)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.live)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        # The operator's live view is the first tab; the QA tabs are built when opened.
        self.tabs = QTabWidget()
        self.tabs.addTab(splitter, "Live")
        self.qa_tabs = QaTabs(self.tabs, settings)
        self.setCentralWidget(self.tabs)
        self.status = StatusLine()
        self.setStatusBar(self.status)

        self.bridge.inspection_ready.connect(self._show_latest)
        self.bridge.alarm_raised.connect(self._show_alarm)
        self.source_bar.start_requested.connect(self.start_line)
        self.source_bar.pause_requested.connect(self.runner.pause)
        self.source_bar.resume_requested.connect(self.runner.resume)
        self.source_bar.stop_requested.connect(self.stop_line)
        self.rejects.inspection_chosen.connect(self.open_inspection)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._refresh)
        self._timer.start(REFRESH_MS)

    # -- actions -------------------------------------------------------------------

    def start_line(self, source: str | None = None, loop: bool = False) -> bool:
        """Start (or restart) the line on ``source``; errors become alarms, not crashes."""
        if source is not None:
            if not source:
                self._show_alarm(
                    Alarm(Severity.ERROR, "line", "choose a folder, file or camera first")
                )
                return False
            self.runner.change_source(source, loop=loop, rate_hz=self.runner.settings.rate_hz)
        self.live.set_placeholder("Starting…")
        self.setCursor(Qt.CursorShape.BusyCursor)
        try:
            self.runner.start()
        except InspectorError as exc:
            self._show_alarm(Alarm(Severity.ERROR, "line", str(exc)))
            self.live.set_placeholder("The line could not start: see Alarms")
            return False
        finally:
            self.unsetCursor()
        self._refresh()
        return True

    def stop_line(self) -> None:
        """Stop the line; queued parts are still inspected and recorded."""
        self.runner.stop()
        self._refresh()

    def open_inspection(self, inspection: Inspection) -> InspectionDialog:
        """Show one inspection large (non-modal, so the line view keeps updating)."""
        dialog = InspectionDialog(inspection, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    # -- updates -------------------------------------------------------------------

    def _show_latest(self) -> None:
        inspection = self.bridge.take_latest()
        if inspection is None or not inspection.frame.image.size:
            return
        self.latest = inspection
        self.live.set_image(render_overlay(inspection, scale=LIVE_SCALE))
        self.shown += 1

    def _show_alarm(self, alarm: Alarm) -> None:
        text = str(alarm)
        self.alarms.insertItem(0, text.splitlines()[0])
        item = self.alarms.item(0)
        item.setToolTip(text)
        item.setForeground(
            Qt.GlobalColor.red if alarm.severity is Severity.ERROR else Qt.GlobalColor.darkYellow
        )
        while self.alarms.count() > 200:
            self.alarms.takeItem(self.alarms.count() - 1)
        self.unacknowledged += 1
        self._show_alarm_count()

    def acknowledge_alarms(self) -> None:
        """The operator has seen the alarms: grey them out and clear the count."""
        for row in range(self.alarms.count()):
            self.alarms.item(row).setForeground(Qt.GlobalColor.gray)
        self.unacknowledged = 0
        self._show_alarm_count()

    def _show_alarm_count(self) -> None:
        new = self.unacknowledged
        self.alarm_heading.setText(f"Alarms — {new} new" if new else "Alarms")
        self.alarm_heading.setProperty("alert", bool(new))
        self.alarm_heading.style().polish(self.alarm_heading)
        self.acknowledge_button.setEnabled(bool(new))

    def _refresh(self) -> None:
        line = self.runner.line
        state = self.runner.state
        self.source_bar.show_state(state)
        if line is None:
            self.status.show_figures(state, None, 0, "", "")
            return
        snap = line.station.snapshot()
        self.counters.show_snapshot(snap)
        self.rejects.show_rejects(snap.recent_rejects)
        self.status.show_figures(
            state,
            snap,
            line.station.queue_depth,
            line.station.device_label,
            line.station.source_name,
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self._timer.stop()
        self.runner.stop()
        self.qa_tabs.close()
        super().closeEvent(event)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("heading")
    return label
