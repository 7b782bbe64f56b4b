"""numpy RGB images to Qt pixmaps."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def to_pixmap(image: np.ndarray) -> QPixmap:
    """Copy an RGB ``uint8`` ``(H, W, 3)`` array into a QPixmap."""
    rgb = np.ascontiguousarray(image)
    height, width = rgb.shape[:2]
    qimage = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimage.copy())
