"""One stored part shown large: kept image, defects, metadata and every review of it.

The live :class:`~inspector.ui.inspection_dialog.InspectionDialog` shows an
inspection still in memory, anomaly map included; a stored record has boxes
but no map, so this dialog redraws boxes only and says that the map was not
stored, instead of showing a heat map it does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
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
from sqlalchemy import Engine

from inspector.core.record import StoredInspection
from inspector.overlay.compose import verdict_above
from inspector.reports.part_images import as_inspection, load_part_image, render_stored
from inspector.storage.image_store import ImageStore
from inspector.storage.retention import image_removal
from inspector.storage.reviews import Review, review_history
from inspector.ui.history_model import TABLE_STYLE
from inspector.ui.image_view import ImageView
from inspector.ui.review_form import ReviewForm
from inspector.ui.why_panel import WhyPanel

NO_MAP_NOTE = "Anomaly map not stored: defects are drawn from their stored boxes."


class StoredInspectionDialog(QDialog):
    """Full view of a stored part, its defects table, metadata and review history.

    With ``classifier`` (the line's defect classifier package) the "Why?"
    choice can show its Grad-CAM on the kept image (:class:`WhyPanel`). Times
    are shown in ``tz`` (the plant's zone, as the History tab shows them;
    ``None``: this computer's). With ``actor`` (the signed-in QA user's name)
    a review of the part can be recorded here (:class:`ReviewForm`): an
    accepted part found bad downstream is an escape.
    """

    def __init__(
        self,
        stored: StoredInspection,
        engine: Engine,
        image_store: ImageStore,
        parent: QWidget | None = None,
        *,
        classifier: Path | None = None,
        tz: tzinfo | None = None,
        actor: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.stored = stored
        self.engine = engine
        self.tz = tz
        self.setWindowTitle(
            f"Record {stored.id} – part {stored.part_id} – {stored.verdict.value.upper()}"
        )
        self.resize(1100, 720)
        self.image, why = load_part_image(stored, image_store)
        # Retention may have removed the image: say when and why, not "not kept".
        self.removal = image_removal(engine, stored.id) if stored.image_path is None else None
        if self.removal is not None:
            why = self.removal.describe(tz)
        self.view = ImageView(why or "image not available")
        self.overlay_box = QCheckBox("Overlay (O)")
        self.overlay_box.setShortcut("O")
        self.overlay_box.setChecked(True)
        self.overlay_box.setEnabled(self.image is not None)
        self.overlay_box.toggled.connect(self._redraw)
        self.map_note = QLabel(NO_MAP_NOTE)
        self.map_note.setWordWrap(True)
        self.map_note.setObjectName("note")

        self.details = details = QLabel(
            _details(stored, why if self.removal is not None else None, tz)
        )
        details.setWordWrap(True)
        self.defects = _table(
            ["Class", "Confidence", "Box (x, y, w, h)", "Area px"],
            [(d.kind, f"{d.confidence:.2f}", str(d.box), f"{d.area_px:,}") for d in stored.defects],
        )
        self.reviews = review_history(engine, stored.id)
        self.review_table = _table(
            ["When", "Reviewer", "Decision", "Class", "Note"],
            [_review_cells(r, tz) for r in self.reviews],
        )
        side = QVBoxLayout()
        side.addWidget(self.overlay_box)
        side.addWidget(self.map_note)
        self.why: WhyPanel | None = None
        if classifier is not None:
            self.why = WhyPanel(classifier, self.image, self)
            self.why.changed.connect(self._redraw)
            side.addWidget(self.why)
        side.addWidget(details)
        side.addWidget(_heading("Defects"))
        side.addWidget(self.defects, 1)
        side.addWidget(_heading("Reviews (the last one counts; the verdict above never changes)"))
        side.addWidget(self.review_table, 1)
        self.review_form: ReviewForm | None = None
        if actor is not None:
            self.review_form = ReviewForm(stored, engine, actor, self)
            self.review_form.reviewed.connect(self._show_reviews)
            side.addWidget(self.review_form)
        layout = QHBoxLayout(self)
        layout.addWidget(self.view, 3)
        layout.addLayout(side, 2)
        self._redraw()

    def _show_reviews(self, _review: Review | None = None) -> None:
        """Read the part's reviews again (one was just recorded)."""
        self.reviews = review_history(self.engine, self.stored.id)
        _fill(self.review_table, [_review_cells(r, self.tz) for r in self.reviews])

    def _redraw(self) -> None:
        if self.image is None:
            self.view.set_image(None)
            return
        if self.why is not None and self.why.showing_activation:
            activation = self.why.activation_image()  # None while computing: the bare part
            shown = activation if activation is not None else self.image
            self.view.set_image(verdict_above(shown, as_inspection(self.stored, self.image)))
            return
        self.view.set_image(
            render_stored(self.stored, self.image, overlay=self.overlay_box.isChecked())
        )


def _details(stored: StoredInspection, removed: str | None, tz: tzinfo | None) -> str:
    score = "not scored" if stored.score is None else f"{stored.score:.4g}"
    lines = [
        f"<b>Verdict:</b> {stored.verdict.value.upper()} (as decided on the line)",
        f"<b>Record:</b> {stored.id} &nbsp; <b>Part:</b> {stored.part_id}",
        f"<b>Station / camera:</b> {stored.station} / {stored.camera_id}",
        f"<b>Time:</b> {stored.captured_at.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}",
        f"<b>Score:</b> {score} (threshold {stored.threshold:.4g})",
        f"<b>Model:</b> {stored.model_version} &nbsp; <b>Rules:</b> {stored.rules_version}",
        f"<b>Latency:</b> {stored.latency_ms:.0f} ms (inference {stored.inference_ms:.1f} ms)",
        f"<b>Image:</b> {stored.image_path or removed or 'not kept'}",
    ]
    if stored.grey_mean is not None and stored.grey_spread is not None:
        lines.append(
            f"<b>Lighting:</b> mean grey {stored.grey_mean:.0f}, spread {stored.grey_spread:.0f}"
        )
    if stored.error:
        lines.append(f"<b>Not inspected:</b> {stored.error}")
    return "<br>".join(lines)


def _review_cells(review: Review, tz: tzinfo | None) -> tuple[str, ...]:
    return (
        f"{review.reviewed_at.astimezone(tz):%Y-%m-%d %H:%M}",
        review.reviewer,
        review.decision.value.replace("_", " "),
        review.defect_class or "",
        review.note or "",
    )


def _table(header: list[str], rows: list[tuple[str, ...]]) -> QTableWidget:
    table = QTableWidget(0, len(header))
    table.setHorizontalHeaderLabels(header)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    _fill(table, rows)
    table.horizontalHeader().setStretchLastSection(True)
    table.setStyleSheet(TABLE_STYLE)
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
    """Show ``rows`` in ``table`` (replacing what it showed), columns fitted to them."""
    table.setRowCount(len(rows))
    for row, cells in enumerate(rows):
        for column, text in enumerate(cells):
            table.setItem(row, column, QTableWidgetItem(text))
    table.resizeColumnsToContents()


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("heading")
    return label
