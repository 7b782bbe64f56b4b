"""Shadow mode from the GUI: start or stop a candidate beside production, and watch it live.

The figures come from :func:`inspector.storage.shadow.shadow_comparison`
(one grouped query), re-read every :data:`REFRESH_MS` while the panel is
visible, and laid out by :mod:`inspector.reports.shadow_figures`. Starting a
shadow run takes a candidate that was compared (its version is the one the
comparison loaded); the line applies it at its next start.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.errors import InspectorError
from inspector.reports.compare_json import CLASSIFY, NOT_A_PRODUCTION_MODEL, CompareOutcome
from inspector.reports.shadow_figures import shadow_assessment, shadow_figures
from inspector.storage import deployments
from inspector.storage.shadow import ShadowComparison, latest_shadow_version, shadow_comparison

REFRESH_MS = 3000


class ShadowPanel(QWidget):
    """Start/Stop, the shadow model's name, and its live comparison with production.

    Args:
        engine: Returns the station's database.
        station: The station.
        candidate: Returns the comparison whose candidate a Start would shadow (or ``None``).
        actor: Asks for an engineer's login; returns the name or ``None``.
    """

    def __init__(
        self,
        engine: Callable[[], Engine],
        station: str,
        candidate: Callable[[], CompareOutcome | None],
        actor: Callable[[], str | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._engine, self.station = engine, station
        self._candidate, self._actor = candidate, actor
        self.comparison: ShadowComparison | None = None
        self.model = QLabel("")
        self.model.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("reason (recorded)")
        self.start_button = QPushButton("Shadow the compared candidate")
        self.start_button.clicked.connect(self.start_shadow)
        self.stop_button = QPushButton("Stop shadow")
        self.stop_button.clicked.connect(self.stop_shadow)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.assessment = QLabel("")
        self.assessment.setWordWrap(True)
        self.assessment.setStyleSheet("font-weight: bold;")
        self.values: dict[str, QLabel] = {}
        self._grid = QGridLayout()

        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.model)
        layout.addWidget(self.reason)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addLayout(self._grid)
        layout.addWidget(self.assessment)
        layout.addStretch(1)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.timer.start(REFRESH_MS)

    def _tick(self) -> None:
        if self.isVisible():  # a hidden tab costs the database nothing
            self.refresh()

    def refresh(self) -> None:
        """Re-read the shadow run and its comparison."""
        try:
            engine = self._engine()
            running = deployments.current_shadow(engine, self.station)
            version = (
                running.model_version if running else latest_shadow_version(engine, self.station)
            )
            self.comparison = (
                None if version is None else shadow_comparison(engine, self.station, version)
            )
        except InspectorError as exc:
            self._say(f"the shadow records cannot be read: {exc}", error=True)
            return
        self.stop_button.setEnabled(running is not None)
        if running is not None:
            self.model.setText(
                f"Shadow model: {running.model_version} ({running.model_path}), started "
                f"{running.at.astimezone():%Y-%m-%d %H:%M} by {running.actor}"
            )
        elif version is not None:
            self.model.setText(f"No shadow model runs; the last one was {version}:")
        else:
            self.model.setText("No shadow model runs on this station.")
        self._show(self.comparison)

    def start_shadow(self) -> deployments.Deployment | None:
        """Shadow the compared candidate on the station (applied at the line's next start)."""
        outcome = self._candidate()
        if outcome is None:
            self._say("compare a candidate first: the shadow runs the compared one", error=True)
            return None
        if outcome.task == CLASSIFY:
            self._say(f"{outcome.new_version} {NOT_A_PRODUCTION_MODEL}", error=True)
            return None
        return self._act(
            "starting a shadow model",
            lambda actor, reason: deployments.start_shadow(
                self._engine(),
                self.station,
                outcome.new_dir,
                outcome.new_version,
                actor=actor,
                reason=reason,
            ),
        )

    def stop_shadow(self) -> deployments.Deployment | None:
        """End the station's shadow run."""
        return self._act(
            "stopping the shadow model",
            lambda actor, reason: deployments.stop_shadow(
                self._engine(), self.station, actor=actor, reason=reason
            ),
        )

    def _act(
        self, what: str, action: Callable[[str, str], deployments.Deployment]
    ) -> deployments.Deployment | None:
        reason = self.reason.text().strip()
        if not reason:
            self._say(f"{what} needs a reason: it is recorded", error=True)
            return None
        actor = self._actor()
        if actor is None:
            self._say(f"{what} needs an engineer's login", error=True)
            return None
        try:
            done = action(actor, reason)
        except (ValueError, InspectorError) as exc:
            self._say(str(exc), error=True)
            return None
        self.reason.clear()
        self._say(
            f"{done.action.value} recorded by {done.actor}; a running line applies it at its "
            "next start"
        )
        self.refresh()
        return done

    def _show(self, comparison: ShadowComparison | None) -> None:
        rows = [] if comparison is None else shadow_figures(comparison)
        for row, (label, value) in enumerate(rows):
            if label not in self.values:
                name = QLabel(label)
                name.setWordWrap(True)
                self._grid.addWidget(name, row, 0)
                self.values[label] = QLabel()
                self._grid.addWidget(self.values[label], row, 1)
            self.values[label].setText(value)
        for index in range(self._grid.count()):
            self._grid.itemAt(index).widget().setVisible(comparison is not None)
        self.assessment.setText("" if comparison is None else shadow_assessment(comparison))

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #e5535e;" if error else "")
