"""The "Why?" toggle of the part viewers: anomaly map, or the Grad-CAM of a class.

An operator looking at a reject asks why. The anomaly map answers "where it
differs from good parts"; when the line also runs a defect classifier, its
Grad-CAM (:mod:`inspector.ml.grad_cam`) answers "where it saw a crack". This
panel offers both: the anomaly view by default, or the Grad-CAM of the
predicted class or of any class of the classifier.

Grad-CAM loads the classifier and runs its backbone, a second or more on a
CPU: on the GUI thread that would freeze the window and, with it, the view of
the line. So it runs on a plain worker thread and reports through a Qt
signal, which Qt queues to the GUI thread (the pattern of
:mod:`inspector.ui.good_teacher`); meanwhile the panel says "computing…" and
the viewer shows the bare image. Results are kept per class, so switching
back and forth costs nothing; a result for a class no longer chosen is kept
but not shown. The classifier is loaded once per panel, on the worker.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from inspector.core.errors import InspectorError
from inspector.ml.runtime_package import read_metadata
from inspector.overlay.activation import blend_activation

if TYPE_CHECKING:
    from inspector.ml.classifier_inference import ClassifierInferencer
    from inspector.ml.grad_cam import ClassActivation

log = logging.getLogger(__name__)

ANOMALY = "Anomaly map"
PREDICTED = "Grad-CAM: predicted class"
_CAM_PREFIX = "Grad-CAM: "
COMPUTING = "computing Grad-CAM…"


class _Relay(QObject):
    """Carries a finished job from the worker thread to the GUI thread (queued)."""

    finished = Signal(object, object, object)  # target (str | None), ClassActivation, error

    def report(self, target: str | None, result: object, error: str | None) -> None:
        """Emit from the worker; a viewer closed meanwhile has nobody waiting."""
        try:
            self.finished.emit(target, result, error)
        except RuntimeError:  # the panel (which owns this relay) was deleted
            log.debug("Grad-CAM finished after its viewer closed")


class _GradCamJob:
    """The worker's side of the panel, plain Python: a worker thread never holds a widget.

    A widget whose last Python reference went away on a worker thread would be
    destroyed there, outside the GUI thread; the worker keeps only this job and
    the relay, which the panel owns (Qt parent), so both die on the GUI thread.
    """

    def __init__(self, classifier_dir: Path, image: np.ndarray | None, device: str) -> None:
        self.classifier_dir = classifier_dir
        self.image = image
        self.device = device
        self.inferencer: ClassifierInferencer | None = None
        self.lock = threading.Lock()  # one Grad-CAM at a time: the inferencer is not thread-safe

    def run(self, target: str | None, relay: _Relay) -> None:
        with self.lock:
            try:
                from inspector.ml.classifier_inference import ClassifierInferencer  # torch: lazy
                from inspector.ml.grad_cam import class_activation_maps

                if self.inferencer is None:
                    self.inferencer = ClassifierInferencer(
                        self.classifier_dir, device=self.device, max_batch=1
                    )
                [result] = class_activation_maps(self.inferencer, [self.image], target)
            except Exception as exc:  # every failure reaches the user, none kills the thread
                if not isinstance(exc, ValueError | InspectorError | OSError):
                    log.exception("Grad-CAM failed")
                relay.report(target, None, str(exc))
                return
        relay.report(target, result, None)


class WhyPanel(QWidget):
    """The "Why?" choice, its state line, and the Grad-CAMs computed so far.

    Args:
        classifier_dir: The classifier package the line runs beside its anomaly model.
        image: The part's RGB image (``None`` or empty: nothing to explain).
        device: Where Grad-CAM runs (``auto``, ``cpu``, ``cuda``).
        parent: The owning widget.

    Attributes:
        state: ``"anomaly"`` (anomaly view chosen), ``"computing"``,
            ``"ready"`` or ``"failed"``.
    """

    changed = Signal()  # the viewer should redraw

    def __init__(
        self,
        classifier_dir: Path,
        image: np.ndarray | None,
        parent: QWidget | None = None,
        *,
        device: str = "auto",
    ) -> None:
        super().__init__(parent)
        self.classifier_dir = Path(classifier_dir)
        self.image = image if image is not None and image.size else None
        self.device = device
        self.state = "anomaly"
        self._results: dict[str | None, ClassActivation] = {}
        self._job = _GradCamJob(self.classifier_dir, self.image, device)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._finished)
        self.choice = QComboBox()
        self.choice.addItem(ANOMALY)
        self.status = QLabel()
        self.status.setWordWrap(True)
        try:
            classes = [str(c) for c in read_metadata(self.classifier_dir).get("classes", [])]
        except InspectorError as exc:
            classes = []
            self.status.setText(f"Grad-CAM not available: {exc}")
        if classes and self.image is not None:
            self.choice.addItem(PREDICTED)
            self.choice.addItems([f"{_CAM_PREFIX}{name}" for name in classes])
        elif classes:
            self.status.setText("Grad-CAM not available: the part's image was not kept")
        self.choice.setEnabled(self.choice.count() > 1)
        self.choice.currentTextChanged.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        why = QLabel("Why?")
        why.setObjectName("heading")
        layout.addWidget(why)
        layout.addWidget(self.choice)
        layout.addWidget(self.status)

    @property
    def target(self) -> str | None:
        """The class chosen (``None``: the predicted one); meaningful off the anomaly view only."""
        text = self.choice.currentText()
        return None if text == PREDICTED else text.removeprefix(_CAM_PREFIX)

    @property
    def showing_activation(self) -> bool:
        """Whether a Grad-CAM view is chosen (ready or not)."""
        return self.choice.currentText() != ANOMALY

    def activation_image(self) -> np.ndarray | None:
        """The image with the chosen Grad-CAM over it, or ``None`` until it is computed."""
        result = self._results.get(self.target) if self.showing_activation else None
        if result is None or self.image is None:
            return None
        return blend_activation(self.image, result.heat)

    def _chosen(self, _text: str) -> None:
        if not self.showing_activation:
            self.state = "anomaly"
            self.status.setText("")
        elif self.target in self._results:
            self._show(self._results[self.target])
        else:
            self.state = "computing"
            self.status.setText(COMPUTING)
            threading.Thread(
                target=self._job.run, args=(self.target, self._relay), name="grad-cam", daemon=True
            ).start()
        self.changed.emit()

    def _finished(
        self, target: str | None, result: ClassActivation | None, error: str | None
    ) -> None:
        if result is not None:
            self._results[target] = result
        if not self.showing_activation or target != self.target:
            return  # the user moved on; the result is kept for later
        if result is None:
            self.state = "failed"
            self.status.setText(f"Grad-CAM failed: {error}")
        else:
            self._show(result)
        self.changed.emit()

    def _show(self, result: ClassActivation) -> None:
        self.state = "ready"
        top = result.prediction
        text = (
            f"Grad-CAM of '{result.target_class}'; the classifier says {top.top_class} "
            f"({top.top_probability:.2f})"
        )
        if result.peak <= 0:
            text += f". Nothing in the image speaks for '{result.target_class}'."
        self.status.setText(text)
