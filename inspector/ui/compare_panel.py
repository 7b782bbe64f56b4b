"""Compare a candidate with the station's production model, then promote it or roll back.

``inspector compare`` runs in a child process (minutes of evaluation never
block the window or the line); its ``compare.json`` is read back and shown as
the verdict line and the key figures side by side, with the HTML report a
click away. Promotion is offered only for the candidate just compared, and
records that report's figures, the engineer who logged in and their reason
(:mod:`inspector.storage.deployments`, audited); a running line picks it up by
itself. Rollback is one action behind a confirmation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from inspector.core.errors import InspectorError
from inspector.ml.runtime_package import read_metadata
from inspector.reports.compare_json import (
    CLASSIFY,
    CompareOutcome,
    read_compare_report,
)
from inspector.storage import deployments
from inspector.training.launch import compare_arguments
from inspector.ui.cli_process import CliProcess
from inspector.ui.deployment_table import DeploymentTable
from inspector.ui.path_field import path_field

VERDICT_COLOURS = {"better": "#2fa862", "worse": "#e5535e", "mixed": "#e0a030", "same": "#c3c9d1"}


class ComparePanel(QWidget):
    """Candidate and data folder, Compare, the outcome, Promote / Roll back, and the history.

    Args:
        engine: Returns the station's database (opened on first need).
        station: The station whose production model is compared and changed.
        configured_model: Returns the model the line is set to run (production until a
            promotion is recorded).
        actor: Asks for an engineer's login; returns the name or ``None``.
        configured_classifier: Returns the defect classifier the line runs beside its
            model (``[model] classifier``), or ``None``: the baseline of a classifier
            candidate, which is compared with it, never with the anomaly model.

    Signals:
        deployed: A promotion or rollback was recorded.
    """

    deployed = Signal()

    def __init__(
        self,
        engine: Callable[[], Engine],
        station: str,
        configured_model: Callable[[], Path],
        actor: Callable[[], str | None],
        configured_classifier: Callable[[], Path | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._engine, self.station, self._actor = engine, station, actor
        self.configured_model = configured_model
        self.configured_classifier = configured_classifier
        self.process = CliProcess(self)
        self.outcome: CompareOutcome | None = None
        self._report: Path | None = None
        self._last_line = ""

        self.candidate = path_field(self, "candidate model package folder", folder=True)
        self.data = path_field(self, "labelled folder: good/ + defect classes", folder=True)
        self.production = QLabel("")
        self.production.setWordWrap(True)
        self.classifier = QLabel("")
        self.classifier.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Candidate", self.candidate.parentWidget())
        form.addRow("Production", self.production)
        form.addRow("Classifier", self.classifier)
        form.addRow("Data", self.data.parentWidget())
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.compare)
        self.open_button = QPushButton("Open report")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_report)
        self.verdict = QLabel("Compare a candidate with production before promoting it.")
        self.verdict.setWordWrap(True)
        self.figures = QTableWidget(0, 3)
        self.figures.setHorizontalHeaderLabels(("figure", "candidate", "production"))
        self.figures.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.figures.verticalHeader().setVisible(False)
        header = self.figures.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("reason (recorded with the promotion)")
        self.promote_button = QPushButton("Promote to production")
        self.promote_button.setEnabled(False)
        self.promote_button.clicked.connect(self.promote)
        self.rollback_button = QPushButton("Roll back…")
        self.rollback_button.clicked.connect(self.rollback)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.history = DeploymentTable()

        actions = QHBoxLayout()
        actions.addWidget(self.compare_button)
        actions.addWidget(self.open_button)
        actions.addStretch(1)
        promotion = QHBoxLayout()
        promotion.addWidget(self.promote_button)
        promotion.addWidget(self.rollback_button)
        promotion.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(actions)
        layout.addWidget(self.verdict)
        layout.addWidget(self.figures, 1)
        layout.addWidget(self.reason)
        layout.addLayout(promotion)
        layout.addWidget(self.message)
        layout.addWidget(QLabel("Deployment history (newest first)"))
        layout.addWidget(self.history, 1)

        self.process.stderr_line.connect(self._progress)
        self.process.finished.connect(self._compared)

    def production_model(self) -> tuple[Path, str | None]:
        """The station's production package now, and its version when a promotion named it."""
        current = deployments.current_production(self._engine(), self.station)
        if current is None or current.model_path is None:
            return self.configured_model(), None
        return current.model_path, current.model_version

    def refresh(self) -> None:
        """Re-read production and the history from the database."""
        try:
            path, version = self.production_model()
            history = deployments.deployment_history(self._engine(), self.station)
        except InspectorError as exc:
            self._say(f"the deployment records cannot be read: {exc}", error=True)
            return
        source = version or "the line's configured model"
        self.production.setText(f"{source} ({path})")
        classifier = self.line_classifier()
        self.classifier.setText(
            f"{classifier} (baseline of classifier candidates)" if classifier else "none"
        )
        self.history.show_history(history)
        self.rollback_button.setEnabled(
            any(d.action is deployments.DeploymentAction.PROMOTE for d in history)
        )

    def compare(self) -> bool:
        """Start ``inspector compare`` for the candidate; ``False`` if it did not start."""
        if self.process.running:
            return False
        candidate = Path(self.candidate.text().strip())
        try:
            baseline = self.baseline_for(candidate)
            stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
            report = candidate.parent / f"compare-{candidate.name}-{stamp}"
            arguments = compare_arguments(
                candidate, baseline, Path(self.data.text().strip()), report
            )
        except (ValueError, InspectorError) as exc:
            self._say(str(exc), error=True)
            return False
        if self._actor() is None:
            self._say("comparing models needs an engineer's login", error=True)
            return False
        self._show_outcome(None)
        self._report, self._last_line = report, ""
        self.compare_button.setEnabled(False)
        self.verdict.setText("comparing: evaluating both models on the same images…")
        self._say("")
        self.process.start(arguments)
        return True

    def baseline_for(self, candidate: Path) -> Path:
        """Production for an anomaly model; the line's classifier for a classifier.

        Raises:
            ValueError: a classifier candidate on a line without a classifier.
            InspectorError: the candidate's ``model.json`` or the records cannot be read.
        """
        if read_metadata(candidate).get("kind") != "classifier":
            return self.production_model()[0]
        classifier = self.line_classifier()
        if classifier is None:
            msg = (
                f"{candidate} is a classifier and this line runs none to compare it with: set "
                "[model] classifier in the station file, or use inspector compare --baseline"
            )
            raise ValueError(msg)
        return classifier

    def line_classifier(self) -> Path | None:
        """The classifier the line runs: the one promoted to the station, else the configured."""
        try:
            promoted = deployments.current_production(
                self._engine(), self.station, deployments.CLASSIFIER
            )
        except (InspectorError, SQLAlchemyError):
            promoted = None
        if promoted is not None and promoted.model_path is not None:
            return promoted.model_path
        return self.configured_classifier()

    def show_report(self, folder: Path) -> CompareOutcome | None:
        """Show a written comparison (``compare.json``) and allow promoting its candidate."""
        try:
            outcome = read_compare_report(folder)
        except ValueError as exc:
            self._say(str(exc), error=True)
            self._show_outcome(None)
            return None
        self.candidate.setText(str(outcome.new_dir))
        self._show_outcome(outcome)
        if outcome.task == CLASSIFY:
            self._say(f"{outcome.new_version}: promoting makes it the station's classifier")
        return outcome

    def open_report(self) -> None:
        """Open the comparison's HTML page in the system browser."""
        if self.outcome is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.outcome.html)))

    def promote(self) -> deployments.Deployment | None:
        """Make the compared candidate production, citing the comparison."""
        outcome = self.outcome
        if outcome is None:
            self._say("compare the candidate with production first", error=True)
            return None
        if not self.reason.text().strip():
            self._say("say why you promote it (reason), it is recorded", error=True)
            return None
        if outcome.verdict in ("worse", "mixed") and not self._confirm_against(outcome):
            self._say(f"not promoted: the comparison says {outcome.verdict}")
            return None
        actor = self._actor()
        if actor is None:
            self._say("promoting a model needs an engineer's login", error=True)
            return None
        try:
            done = deployments.promote(
                self._engine(),
                self.station,
                outcome.new_dir,
                outcome.new_version,
                actor=actor,
                reason=self.reason.text().strip(),
                metrics=outcome.promotion_metrics(),
                role=deployments.CLASSIFIER if outcome.task == CLASSIFY else deployments.PRODUCTION,
            )
        except (ValueError, InspectorError) as exc:
            self._say(str(exc), error=True)
            return None
        self.reason.clear()
        self._done(done)
        return done

    def _confirm_against(self, outcome: CompareOutcome) -> bool:
        """Ask before promoting a candidate its own comparison does not call better."""
        answer = QMessageBox.question(
            self,
            "Promote anyway?",
            f"The comparison says {outcome.verdict}:\n{outcome.verdict_line()}\n\n"
            "Promote this candidate to production anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def rollback(self) -> deployments.Deployment | None:
        """Back to the production model before the current one, after a confirmation."""
        try:
            current, version = self.production_model()
        except InspectorError as exc:
            self._say(f"the deployment records cannot be read: {exc}", error=True)
            return None
        reason, ok = QInputDialog.getText(
            self,
            "Roll back",
            f"Roll station {self.station} back from {version or current} to the production "
            "model that ran before it?\nReason (recorded):",
        )
        if not ok:
            return None
        if not reason.strip():
            self._say("a rollback needs a reason: nothing was changed", error=True)
            return None
        actor = self._actor()
        if actor is None:
            self._say("rolling back needs an engineer's login", error=True)
            return None
        try:
            done = deployments.rollback(
                self._engine(), self.station, actor=actor, reason=reason.strip()
            )
        except (ValueError, InspectorError) as exc:
            self._say(str(exc), error=True)
            return None
        self._done(done)
        return done

    def _done(self, done: deployments.Deployment) -> None:
        self._say(
            f"{done.action.value} recorded: {done.model_version} by {done.actor}; a running "
            "line switches to it between two parts"
        )
        self.refresh()
        self.deployed.emit()

    def _progress(self, line: str) -> None:
        if line.strip():
            self._last_line = line.strip()
            self.verdict.setText(f"comparing: {self._last_line}")

    def _compared(self, code: int, normal: bool) -> None:
        self.compare_button.setEnabled(True)
        report = self._report
        if report is None or not (report / "compare.json").is_file():
            how = f"exit code {code}" if normal else "it crashed"
            self.verdict.setText(f"the comparison failed ({how}): nothing to promote")
            self._say(self._last_line or "the command said nothing", error=True)
            return
        outcome = self.show_report(report)
        if outcome is not None and code != 0:
            self._say("some images could not be read: see the report", error=True)

    def _show_outcome(self, outcome: CompareOutcome | None) -> None:
        self.outcome = outcome
        self.open_button.setEnabled(outcome is not None)
        self.promote_button.setEnabled(outcome is not None)
        rows = outcome.key_figures() if outcome is not None else []
        self.figures.setRowCount(len(rows))
        for row, cells in enumerate(rows):
            for column, text in enumerate(cells):
                self.figures.setItem(row, column, QTableWidgetItem(text))
        if outcome is None:
            self.verdict.setText("Compare a candidate with production before promoting it.")
            self.verdict.setStyleSheet("")
            return
        colour = VERDICT_COLOURS.get(outcome.verdict, "#c3c9d1")
        self.verdict.setText(outcome.verdict_line())
        self.verdict.setStyleSheet(f"color: {colour}; font-weight: bold;")

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #e5535e;" if error else "")
