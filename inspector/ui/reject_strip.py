"""The last rejects as thumbnails; clicking one opens it large."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from inspector.core.inspection import Inspection
from inspector.overlay.compose import render_overlay
from inspector.ui.qt_image import to_pixmap

THUMB = 112


class RejectStrip(QListWidget):
    """Newest-first thumbnails of rejected and review parts."""

    inspection_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSpacing(4)
        self.setUniformItemSizes(True)
        self._shown: tuple[int, ...] = ()
        self.itemClicked.connect(self._chosen)

    def show_rejects(self, rejects: tuple[Inspection, ...]) -> None:
        """Rebuild the strip when the list of recent rejects changed."""
        key = tuple(id(inspection) for inspection in rejects)
        if key == self._shown:
            return
        self._shown = key
        self.clear()
        for inspection in rejects:
            item = QListWidgetItem(_caption(inspection))
            if inspection.frame.image.size:
                thumb = render_overlay(inspection, banner=False, boxes=False)
                item.setIcon(QIcon(to_pixmap(thumb)))
            item.setData(Qt.ItemDataRole.UserRole, inspection)
            item.setToolTip(inspection.error or f"score {inspection.score:.3g}")
            self.addItem(item)

    def _chosen(self, item: QListWidgetItem) -> None:
        self.inspection_chosen.emit(item.data(Qt.ItemDataRole.UserRole))


def _caption(inspection: Inspection) -> str:
    stamp = inspection.frame.captured_at.astimezone().strftime("%H:%M:%S")
    return f"#{inspection.frame.part_id} {inspection.verdict.value.upper()}\n{stamp}"
