"""A widget that shows one image scaled to fit, keeping its aspect ratio."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from inspector.ui.qt_image import to_pixmap


class ImageView(QWidget):
    """Paints the current image centred on a dark background, or a hint text."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._placeholder = placeholder
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)

    def set_image(self, image: np.ndarray | None) -> None:
        """Show ``image`` (RGB) or clear the view."""
        self._pixmap = to_pixmap(image) if image is not None and image.size else None
        self.update()

    def set_placeholder(self, text: str) -> None:
        """Text shown while there is no image."""
        self._placeholder = text
        self.update()

    def has_image(self) -> bool:
        """True once an image is shown."""
        return self._pixmap is not None

    def image_size(self) -> tuple[int, int] | None:
        """``(height, width)`` of the image shown, before it is fitted to the widget."""
        return None if self._pixmap is None else (self._pixmap.height(), self._pixmap.width())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(640, 640)

    def paintEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#15181c"))
        if self._pixmap is None:
            painter.setPen(QColor("#8a939e"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        size = self._pixmap.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(self.rect().center())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(target, self._pixmap)
