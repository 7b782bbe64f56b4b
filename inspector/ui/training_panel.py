"""Train a model from the GUI: ``inspector train`` in a child process, followed live.

The panel builds the command (:mod:`inspector.training.launch`), reads the
child's JSON progress lines (:mod:`inspector.training.progress_lines`) into a
progress bar and the live loss/metric plot, and shows everything else the
child says in a log. Cancel asks the child to stop the way Ctrl-C does, so
the package folder is never left half-written; the panel checks that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from inspector.training.launch import TASKS, TrainRequest, training_unavailable
from inspector.training.progress_lines import SAVED, TrainingCurves, parse_progress_line
from inspector.ui.cli_process import CliProcess
from inspector.ui.path_field import path_field
from inspector.ui.training_plot import TrainingPlot

LOG_LINES = 2000
AUTO_SIZE = 31
"""The image-size box's lowest step, shown as "auto": the task chooses its own size."""


class TrainingPanel(QWidget):
    """Form, Start/Cancel, progress bar, live plot and log of one training run at a time.

    Args:
        actor: Asks for an engineer's login; returns the name or ``None`` (cancelled).

    Signals:
        package_saved: The folder of a package a run finished writing.
    """

    package_saved = Signal(str)

    def __init__(self, actor: Callable[[], str | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._actor = actor
        self.process = CliProcess(self)
        self.curves = TrainingCurves()
        self.request: TrainRequest | None = None
        self.saved: Path | None = None
        self._summary: list[str] = []

        self.data = path_field(self, "labelled folder: <class>/<image>", folder=True)
        self.val = path_field(self, "optional: a separate validation folder", folder=True)
        self.out = path_field(self, "new folder for the model package", folder=False)
        self.task = QComboBox()
        self.task.addItems(TASKS)
        self.image_size = _spin(AUTO_SIZE, 1024, AUTO_SIZE)
        self.image_size.setSpecialValueText("auto (from the images)")
        self.head_epochs = _spin(1, 1000, 80)
        self.epochs = _spin(0, 200, 6)
        form = QFormLayout()
        form.addRow("Data", self.data.parentWidget())
        form.addRow("Validation", self.val.parentWidget())
        form.addRow("Task", self.task)
        form.addRow("Output", self.out.parentWidget())
        sizes = QHBoxLayout()
        for label, spin in (
            ("image size", self.image_size),
            ("head epochs (classify)", self.head_epochs),
            ("fine-tuning epochs", self.epochs),
        ):
            sizes.addWidget(QLabel(label))
            sizes.addWidget(spin)
        form.addRow("Options", sizes)

        self.start_button = QPushButton("Start training")
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.stage = QLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.plot = TrainingPlot()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setMaximumHeight(110)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))  # tables

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.stage)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.log)

        self.process.stdout_line.connect(self._stdout)
        self.process.stderr_line.connect(self.log.appendPlainText)
        self.process.finished.connect(self._finished)
        self.unavailable = training_unavailable()
        if self.unavailable is not None:
            self.start_button.setEnabled(False)
            self._say(self.unavailable, error=True)

    def form_request(self) -> TrainRequest:
        """The request the form describes (checked when started)."""
        val = self.val.text().strip()
        return TrainRequest(
            data=Path(self.data.text().strip()),
            out=Path(self.out.text().strip()),
            task=self.task.currentText(),
            val=Path(val) if val else None,
            image_size=None if self.image_size.value() == AUTO_SIZE else self.image_size.value(),
            head_epochs=self.head_epochs.value(),
            epochs=self.epochs.value(),
        )

    def start(self, request: TrainRequest | None = None) -> bool:
        """Start training (the form's request unless one is given); ``False`` if it did not."""
        if self.unavailable is not None or self.process.running:
            return False
        request = request or self.form_request()
        try:
            arguments = request.arguments()
        except ValueError as exc:
            self._say(str(exc), error=True)
            return False
        if self._actor() is None:
            self._say("training needs an engineer's login", error=True)
            return False
        self.request, self.saved = request, None
        self.curves = TrainingCurves()
        self.plot.show_curves(self.curves)
        self.log.clear()
        self._summary = []
        self.progress.setValue(0)
        self.stage.setText("starting (loading PyTorch)…")
        self._say(f"training into {request.out}")
        self.process.start(arguments)
        self._running(True)
        return True

    def cancel(self) -> None:
        """Stop the run cleanly; nothing is saved."""
        if self.process.running:
            self.stage.setText("cancelling…")
            self.process.cancel()

    def _stdout(self, line: str) -> None:
        try:
            event = parse_progress_line(line)
        except ValueError as exc:
            self.log.appendPlainText(str(exc))
            return
        if event is None:
            self._summary.append(line)  # the closing summary: shown after the progress lines
            return
        if event.event == SAVED:
            self.saved = Path(str(event.metrics["package"]))
        elif self.curves.add(event):
            self.plot.show_curves(self.curves)
        self.stage.setText(event.describe())
        self.progress.setValue(round(1000 * event.fraction))

    def _finished(self, code: int, normal: bool) -> None:
        self._running(False)
        for line in self._summary:
            self.log.appendPlainText(line)
        self._summary = []
        out = self.request.out if self.request is not None else None
        if self.saved is not None and code == 0:
            self.progress.setValue(1000)
            self._say(f"saved {self.saved}: compare it with production below")
            self.package_saved.emit(str(self.saved))
        elif self.process.cancelled:
            left = out is not None and out.exists()
            self._say(
                f"cancelled, but {out} exists: check it before using it"
                if left
                else "cancelled: nothing was written",
                error=left,
            )
        else:
            how = f"exit code {code}" if normal else "it crashed"
            self._say(f"training failed ({how}): the log below says why", error=True)

    def _running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and self.unavailable is None)
        self.cancel_button.setEnabled(running)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #e5535e;" if error else "")


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin
