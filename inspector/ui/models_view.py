"""The engineer's Models tab: train, compare and promote or roll back, and shadow mode.

Three panels over the station's database, each a thin view: training and
comparing run as ``inspector`` child processes (the window and the line keep
running), and every model action asks for an engineer's login through the
window's :class:`~inspector.ui.access.AccessControl`. A package a training
run saves becomes the candidate to compare.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QGroupBox, QSplitter, QVBoxLayout, QWidget
from sqlalchemy import Engine

from inspector.storage.users import Role
from inspector.ui.access import AccessControl
from inspector.ui.compare_panel import ComparePanel
from inspector.ui.shadow_panel import ShadowPanel
from inspector.ui.training_panel import TrainingPanel

CLOSE_WAIT_MS = 35_000
"""How long closing waits for a cancelled child process to stop cleanly."""


class ModelsView(QWidget):
    """Train (left); compare, promote, roll back and the history (middle); shadow (right).

    Args:
        engine: Returns the station's database (opened on first need).
        access: The window's login state; every model action asks it for an engineer.
        station: The station whose models are managed.
        configured_model: Returns the model the line is set to run (until a promotion).
        configured_classifier: Returns the classifier the line runs beside it, if any.
    """

    def __init__(
        self,
        engine: Callable[[], Engine],
        access: AccessControl,
        station: str,
        configured_model: Callable[[], Path],
        configured_classifier: Callable[[], Path | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.access = access
        self.training = TrainingPanel(self._actor("Training a model"))
        self.compare = ComparePanel(
            engine,
            station,
            configured_model,
            self._actor("Comparing and promoting models"),
            configured_classifier,
        )
        self.shadow = ShadowPanel(
            engine, station, lambda: self.compare.outcome, self._actor("Changing the shadow model")
        )
        self.training.package_saved.connect(self.compare.candidate.setText)
        self.compare.deployed.connect(self.shadow.refresh)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        for title, panel in (
            ("Train", self.training),
            (f"Compare and promote — station {station}", self.compare),
            ("Shadow mode (live)", self.shadow),
        ):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(panel)
            splitter.addWidget(box)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 4)
        splitter.setStretchFactor(2, 3)
        QVBoxLayout(self).addWidget(splitter)

    def _actor(self, action: str) -> Callable[[], str | None]:
        return lambda: self.access.require_name(Role.ENGINEER, self, action)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Read the deployments and the shadow figures when the tab is opened."""
        super().showEvent(event)
        self.compare.refresh()
        self.shadow.refresh()

    def close_processes(self) -> None:
        """Cancel a running training or comparison and wait for it (the window is closing)."""
        for process in (self.training.process, self.compare.process):
            if process.running:
                process.cancel()
                process.wait(CLOSE_WAIT_MS)
