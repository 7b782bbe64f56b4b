"""The operator's window: live view with overlay, counters, last rejects, alarms.

A false reject enlarged from the last rejects (or shown in the Review tab) can
be taught to the model as OK; the window then switches the line to the new
model version, restarting a running line between parts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
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
from sqlalchemy import Engine

from inspector.core.errors import InspectorError
from inspector.core.inspection import Inspection
from inspector.decision.actuator import Actuator
from inspector.overlay.compose import render_overlay
from inspector.pipeline.alarms import Alarm, Severity
from inspector.pipeline.line import LineSettings, load_scorer
from inspector.pipeline.runner import LineRunner
from inspector.pipeline.station import LineState, Scorer
from inspector.storage.image_store import ImageStore
from inspector.storage.users import Role
from inspector.ui.access import AccessBar, AccessControl
from inspector.ui.audit_view import AuditView
from inspector.ui.bridge import StationBridge
from inspector.ui.counters import CountersPanel
from inspector.ui.good_teacher import GoodPartTeacher, TeachOutcome
from inspector.ui.history_view import HistoryView
from inspector.ui.image_view import ImageView
from inspector.ui.inspection_dialog import InspectionDialog
from inspector.ui.models_view import ModelsView
from inspector.ui.qa_tabs import QaTabs
from inspector.ui.reject_strip import RejectStrip
from inspector.ui.reports_view import ReportsView
from inspector.ui.review_view import ReviewView
from inspector.ui.source_bar import SourceBar
from inspector.ui.station_editor import StationEditor
from inspector.ui.status_line import StatusLine
from inspector.ui.teach_good import TeachGoodPanel
from inspector.ui.users_dialog import UsersDialog

REFRESH_MS = 250
LIVE_SCALE = 2.0
TEACHER_WAIT_S = 60.0  # a lesson still running at close is finished, never cut mid-write


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
        # Remembers the reviewer's name for the Review tab and the "this is OK" button alike.
        self.reviewer_settings = QSettings()
        # Nobody is logged in at start (operator level); actions above it ask for a login.
        self.access = AccessControl(
            lambda: self.qa_tabs.storage()[0], idle_minutes=settings.idle_lock_minutes, parent=self
        )
        self.teacher = GoodPartTeacher(
            lambda: self.runner.settings.model_dir,
            self,
            device=settings.device,
            preload=self._load_model,
        )

        self.source_bar = SourceBar()
        self.source_bar.set_source(settings.source)
        toolbar = QToolBar("Line")
        toolbar.setMovable(False)
        toolbar.addWidget(self.source_bar)
        toolbar.addAction("Users…", self.manage_users)
        self.addToolBar(toolbar)

        self.live = ImageView("Press Start to run the line")
        self.counters = CountersPanel()
        self.rejects = RejectStrip()
        self.alarms = QListWidget()
        self.alarms.setObjectName("alarms")
        # An alarm says what to do in a sentence or two: wrap it, never hide it off the side.
        self.alarms.setWordWrap(True)
        self.alarms.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
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
        self.qa_tabs = QaTabs(
            self.tabs,
            settings,
            factories={
                "History": self._history_view,
                "Review": self._review_view,
                "Reports": self._reports_view,
            },
        )
        # The engineer's station file and its zones; saving never changes the running line.
        self.station_editor = StationEditor(
            audit_engine=lambda: self.qa_tabs.storage()[0],
            actor=lambda: self.access.require_name(
                Role.ENGINEER, self, "Saving the station configuration"
            ),
            latest_frame=lambda: self.latest.frame.image if self.latest else None,
        )
        self.tabs.addTab(self.station_editor, "Station")
        # The engineer's models: train, compare, promote / roll back, shadow (issue 4).
        self.models_view = ModelsView(
            lambda: self.qa_tabs.storage()[0],
            self.access,
            settings.station_name,
            lambda: self.runner.settings.model_dir,
            lambda: self.runner.settings.classifier_dir,
        )
        self.tabs.addTab(self.models_view, "Models")
        self.audit_view = AuditView(lambda: self.qa_tabs.storage()[0], self.access)
        self.tabs.addTab(self.audit_view, "Audit")
        self.setCentralWidget(self.tabs)
        self.status = StatusLine()
        self.setStatusBar(self.status)
        self.access_bar = AccessBar(self.access)
        self.status.addPermanentWidget(self.access_bar)

        self.bridge.inspection_ready.connect(self._show_latest)
        self.bridge.alarm_raised.connect(self._show_alarm)
        self.source_bar.start_requested.connect(self.start_line)
        self.source_bar.pause_requested.connect(self.runner.pause)
        self.source_bar.resume_requested.connect(self.runner.resume)
        self.source_bar.stop_requested.connect(self.stop_line)
        self.rejects.inspection_chosen.connect(self.open_inspection)
        self.teacher.finished.connect(self._model_learned)
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
        dialog = InspectionDialog(
            inspection,
            self,
            actions=self._teach_panel(inspection),
            classifier=self.runner.settings.classifier_dir,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _teach_panel(self, inspection: Inspection) -> TeachGoodPanel:
        """The "this is OK" button for a live part, on the QA tabs' database connection."""
        try:
            engine, store = self.qa_tabs.storage()
        except InspectorError as exc:
            self._show_alarm(Alarm(Severity.WARNING, "records", str(exc)))
            engine, store = None, None
        panel = TeachGoodPanel(
            self.teacher,
            engine,
            store,
            actor=lambda: self.access.require_name(Role.QA, panel, "Teaching the model"),
        )
        panel.show_live(inspection, self.runner.settings.station_name)
        return panel

    def _history_view(self, engine: Engine, store: ImageStore) -> HistoryView:
        """The History tab in the plant's zone, as the Reports tab shows it."""
        settings = self.runner.settings
        return HistoryView(
            engine,
            store,
            classifier=settings.classifier_dir,
            calendar=settings.shift_calendar,
            actor=self._qa_reviewer,
        )

    def _reports_view(self, engine: Engine, store: ImageStore) -> ReportsView:
        """The Reports tab in the plant's zone and shifts (the station file's ``[reports]``)."""
        return ReportsView(engine, store, calendar=self.runner.settings.shift_calendar)

    def manage_users(self) -> UsersDialog | None:
        """The user table, for an administrator only (asks for an admin login)."""
        admin = self.access.require(Role.ADMIN, self, "Managing users")
        if admin is None:
            return None
        dialog = UsersDialog(self.access.session().engine, admin.name, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _qa_reviewer(self) -> str | None:
        """The signed-in QA user's name for a review (asking for a sign-in; ``None``: declined)."""
        return self.access.require_name(Role.QA, self, "Reviewing parts")

    def _review_view(self, engine: Engine, store: ImageStore) -> ReviewView:
        return ReviewView(
            engine,
            store,
            settings=self.reviewer_settings,
            teacher=self.teacher,
            actor=self._qa_reviewer,
        )

    def _load_model(self, model_dir: Path) -> Scorer:
        """Loads a learned model for the line; runs on the teacher's worker thread."""
        settings = self.runner.settings
        return load_scorer(model_dir, settings.device, settings.backend)

    def _model_learned(self, outcome: TeachOutcome) -> None:
        """Switch the line to the model that learned a part (the panel shows any error)."""
        taught = outcome.taught
        if taught is None:
            return
        state = self.runner.state
        self.runner.change_model(taught.result.package_dir, scorer=taught.model)
        if state in (LineState.STARTING, LineState.RUNNING):
            # Between parts: stopping finishes and records every queued part first.
            started = self.start_line()
            note = "the line runs on it now" if started else "the line did not restart: see Alarms"
        elif state is LineState.PAUSED:
            self.stop_line()
            note = "the paused line was stopped: Start runs it on the new model"
        else:
            note = "the next start uses it"
        # In the Live tab's event list: the operator sees that the model (and the counters) changed.
        message = f"{taught.summary}, taught by {taught.actor}; {note}"
        self._show_alarm(Alarm(Severity.WARNING, "model", message))

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
        version = self.runner.model_version or self.runner.settings.model_dir.name
        self.status.show_model(f"model {version}")
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
        self.teacher.wait(TEACHER_WAIT_S)
        self.runner.stop()
        self.models_view.close_processes()
        self.qa_tabs.close()
        super().closeEvent(event)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("heading")
    return label
