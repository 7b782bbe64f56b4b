"""The viewers' "Why?" toggle: anomaly map by default, or a class's Grad-CAM off the GUI thread.

A tiny classifier really trained on drawn parts (``trained_classifier``), a
spot part as the line would show it, and a stored record with its kept JPEG.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from inspector.core import Defect, Verdict
from inspector.core.frame import Frame
from inspector.core.inspection import Inspection
from inspector.overlay.compose import render_overlay, verdict_above
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections, get_inspection
from inspector.ui.inspection_dialog import InspectionDialog
from inspector.ui.stored_inspection_dialog import StoredInspectionDialog
from inspector.ui.why_panel import ANOMALY, COMPUTING, PREDICTED
from tests.records import new_record
from tests.trained_tiny_classifier import synthetic_part

CAM_TIMEOUT_MS = 60_000  # loads the classifier and runs its backbone on a shared 2-core CPU


def _shown(dialog: InspectionDialog | StoredInspectionDialog) -> np.ndarray:
    """The pixels the view paints now, as RGB (read back from its pixmap)."""
    image = dialog.view._pixmap.toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    # A copy: the bytes belong to the QImage, which is gone once this returns.
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


@pytest.fixture
def spot() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_part("spot", 4242)


def _inspection(image: np.ndarray, mask: np.ndarray) -> Inspection:
    frame = Frame(image, "cam0", 7, 0.0, datetime.now(UTC), origin="test")
    anomaly_map = (mask > 0).astype(np.float32) * 2.0
    return Inspection(
        frame,
        Verdict.REJECT,
        2.0,
        1.0,
        (Defect("anomaly", 0.9, (1, 1, 5, 5), 25),),
        anomaly_map,
        "m-1",
        "r-1",
        1.0,
        2.0,
    )


def test_the_live_viewer_switches_to_the_grad_cam_of_a_class(
    qtbot, trained_classifier: Path, spot: tuple[np.ndarray, np.ndarray]
) -> None:
    image, mask = spot
    inspection = _inspection(image, mask)
    dialog = InspectionDialog(inspection, classifier=trained_classifier)
    qtbot.addWidget(dialog)
    why = dialog.why
    assert why is not None and why.choice.currentText() == ANOMALY and why.state == "anomaly"
    overlay = render_overlay(inspection, scale=2.0)
    assert _shown(dialog).shape == overlay.shape  # the anomaly overlay, as without a classifier
    why.choice.setCurrentText("Grad-CAM: spot")
    assert why.state == "computing" and why.status.text() == COMPUTING
    # The bare part while it computes, under the verdict bar as the overlay has it: the
    # picture keeps its proportions when the view changes.
    bare = verdict_above(image, inspection)
    bar = bare.shape[0] - image.shape[0]
    assert np.array_equal(_shown(dialog), bare)
    assert abs(bare.shape[0] / bare.shape[1] - overlay.shape[0] / overlay.shape[1]) < 0.02
    qtbot.waitUntil(lambda: why.state == "ready", timeout=CAM_TIMEOUT_MS)
    assert "Grad-CAM of 'spot'" in why.status.text() and "says spot" in why.status.text()
    shown = _shown(dialog)[bar:].astype(np.int16)
    changed = np.abs(shown - image).sum(axis=2) > 30
    # The colour sits on the spot: a larger share of the spot is tinted than of the rest.
    assert changed[mask > 0].mean() > 2 * changed[mask == 0].mean()
    why.choice.setCurrentText(PREDICTED)  # predicted is spot too, computed again on its own
    qtbot.waitUntil(lambda: why.state == "ready", timeout=CAM_TIMEOUT_MS)
    why.choice.setCurrentText("Grad-CAM: spot")  # kept: ready at once, no thread
    assert why.state == "ready"
    why.choice.setCurrentText(ANOMALY)
    assert why.state == "anomaly" and _shown(dialog).shape == overlay.shape


def test_without_a_classifier_there_is_no_toggle(qtbot, spot) -> None:
    dialog = InspectionDialog(_inspection(*spot))
    qtbot.addWidget(dialog)
    assert dialog.why is None


def test_the_stored_viewer_explains_the_kept_image(
    qtbot, trained_classifier: Path, spot: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    image, _ = spot
    db = tmp_path / "inspections.db"
    engine = open_database(db)
    store = ImageStore.beside(db)
    when = datetime.now(UTC)
    kept = store.save(image, captured_at=when, station="line", part_id=1, verdict=Verdict.REJECT)
    [record_id] = add_inspections(
        engine, [new_record(captured_at=when, verdict=Verdict.REJECT, score=0.9, image_path=kept)]
    )
    [no_image_id] = add_inspections(engine, [new_record(verdict=Verdict.REJECT, score=0.9)])
    dialog = StoredInspectionDialog(
        get_inspection(engine, record_id), engine, store, classifier=trained_classifier
    )
    qtbot.addWidget(dialog)
    assert dialog.why is not None
    dialog.why.choice.setCurrentText("Grad-CAM: good")
    qtbot.waitUntil(lambda: dialog.why.state == "ready", timeout=CAM_TIMEOUT_MS)
    assert "Grad-CAM of 'good'" in dialog.why.status.text()
    missing = StoredInspectionDialog(
        get_inspection(engine, no_image_id), engine, store, classifier=trained_classifier
    )
    qtbot.addWidget(missing)
    assert not missing.why.choice.isEnabled()
    assert "image was not kept" in missing.why.status.text()
    engine.dispose()


def test_a_broken_classifier_folder_is_said_not_crashed(qtbot, spot, tmp_path: Path) -> None:
    dialog = InspectionDialog(_inspection(*spot), classifier=tmp_path / "nowhere")
    qtbot.addWidget(dialog)
    assert not dialog.why.choice.isEnabled()
    assert dialog.why.status.text().startswith("Grad-CAM not available:")
