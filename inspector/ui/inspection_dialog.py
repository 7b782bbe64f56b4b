"""One inspection shown large: the overlay, the numbers and the defects."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspector.core.inspection import Inspection
from inspector.overlay.compose import render_overlay, verdict_above
from inspector.ui.image_view import ImageView
from inspector.ui.why_panel import WhyPanel


class InspectionDialog(QDialog):
    """Full-size view of one part, with the overlay switchable on and off.

    Args:
        inspection: The part, as the line decided it.
        parent: The owning window.
        actions: What can be done about the part (the main window's "this is OK"
            panel), shown under the defects; the dialog itself only shows.
        classifier: The defect classifier the line runs beside its anomaly
            model; adds the "Why?" choice of its Grad-CAM (:class:`WhyPanel`).
    """

    def __init__(
        self,
        inspection: Inspection,
        parent: QWidget | None = None,
        *,
        actions: QWidget | None = None,
        classifier: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.inspection = inspection
        frame = inspection.frame
        self.setWindowTitle(f"Part {frame.part_id} – {inspection.verdict.value.upper()}")
        self.resize(980, 680)
        self.view = ImageView("image not available")
        self.overlay_box = QCheckBox("Overlay")
        self.overlay_box.setChecked(True)
        self.overlay_box.toggled.connect(self._redraw)

        details = QLabel(_details(inspection))
        details.setWordWrap(True)
        table = QTableWidget(len(inspection.defects), 4)
        table.setHorizontalHeaderLabels(["Class", "Confidence", "Box (x, y, w, h)", "Area px"])
        for row, defect in enumerate(inspection.defects):
            cells = (defect.kind, f"{defect.confidence:.2f}", str(defect.box), str(defect.area_px))
            for column, text in enumerate(cells):
                table.setItem(row, column, QTableWidgetItem(text))
        table.resizeColumnsToContents()

        side = QVBoxLayout()
        side.addWidget(self.overlay_box)
        self.why: WhyPanel | None = None
        if classifier is not None:
            self.why = WhyPanel(classifier, frame.image, self)
            self.why.changed.connect(self._redraw)
            side.addWidget(self.why)
        side.addWidget(details)
        side.addWidget(QLabel("Defects"))
        side.addWidget(table, 1)
        self.actions = actions
        if actions is not None:
            side.addWidget(actions)
        layout = QHBoxLayout(self)
        layout.addWidget(self.view, 3)
        layout.addLayout(side, 2)
        self._redraw()

    def _redraw(self) -> None:
        image = self.inspection.frame.image
        if not image.size:
            self.view.set_image(None)
            return
        if self.why is not None and self.why.showing_activation:
            activation = self.why.activation_image()  # None while computing: the bare part
            shown = activation if activation is not None else image
            self.view.set_image(verdict_above(shown, self.inspection))
        else:
            # Off: the bare part under the same banner, so the picture keeps its shape.
            drawn = self.overlay_box.isChecked()
            self.view.set_image(
                render_overlay(
                    self.inspection, heatmap=drawn, contours=drawn, boxes=drawn, scale=2.0
                )
            )


def _details(inspection: Inspection) -> str:
    frame = inspection.frame
    score = "not scored" if math.isnan(inspection.score) else f"{inspection.score:.4g}"
    lines = [
        f"<b>Verdict:</b> {inspection.verdict.value.upper()}",
        f"<b>Part:</b> {frame.part_id} (camera {frame.camera_id or '–'})",
        f"<b>Time:</b> {frame.captured_at.astimezone():%Y-%m-%d %H:%M:%S}",
        f"<b>Score:</b> {score} (threshold {inspection.threshold:.4g})",
        f"<b>Latency:</b> {inspection.latency_ms:.0f} ms",
        f"<b>Model:</b> {inspection.model_version}",
        f"<b>Rules:</b> {inspection.rules_version}",
    ]
    if frame.origin:
        lines.append(f"<b>Origin:</b> {frame.origin}")
    if inspection.error:
        lines.append(f"<b>Not inspected:</b> {inspection.error}")
    return "<br>".join(lines)
