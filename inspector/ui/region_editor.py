"""The review canvas: the part with the machine's defects, and the reviewer's correction over it.

The machine's boxes are drawn into the picture (as everywhere else); the
reviewer's correction is painted on top by Qt in another colour (cyan), so the
two never blend into one another. Drawing is modal and keyboard-first, driven
by the review view's keys: **B** box mode (drag a rectangle), **M** brush mode
(drag to paint), **E** eraser on/off, **+**/**−** brush size, **Esc** clears
the correction. The mouse only draws; it never decides anything.

Coordinates: every mouse position is mapped into the image's own pixels
before it reaches :class:`~inspector.ui.region_correction.RegionCorrection`,
so a mask painted on a zoomed, letterboxed view is stored at the image's size.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from inspector.ui.qt_image import to_pixmap
from inspector.ui.region_correction import Point, RegionCorrection

CORRECTION_RGB = (0, 214, 255)  # cyan: apart from the machine's red/amber boxes
_MASK_ALPHA = 120
_HINT_HEIGHT = 40  # two lines: the mode's keys, and what is drawn


class DrawMode(StrEnum):
    """What a drag on the canvas does."""

    VIEW = "view"
    BOX = "box"
    BRUSH = "brush"


class RegionEditor(QWidget):
    """Shows one part scaled to fit and lets the reviewer draw a box or paint a mask on it."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = DrawMode.VIEW
        self.erasing = False
        self.correction: RegionCorrection | None = None
        self._placeholder = placeholder
        self._pixmap: QPixmap | None = None
        self._overlay: QImage | None = None  # the mask in colour, rebuilt when it changes
        self._drag: Point | None = None  # where the current drag started (image pixels)
        self._last: Point | None = None  # the previous brush position of the current stroke
        self._rubber: tuple[Point, Point] | None = None  # the box being dragged
        self._hover: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 240)
        self.setMouseTracking(True)  # the brush outline follows the mouse

    # -- what is shown -----------------------------------------------------------

    def set_part(self, scene: np.ndarray | None, shape: tuple[int, int] | None) -> None:
        """Show ``scene`` (RGB; the part drawn with its defects) for an image of ``shape``.

        ``shape`` is the stored image's ``(height, width)``; ``None`` (no image
        kept) shows the scene without allowing a correction. The previous
        correction is dropped: each part starts with none.
        """
        self._pixmap = to_pixmap(scene) if scene is not None and scene.size else None
        brush = self.correction.brush if self.correction is not None else None
        self.correction = RegionCorrection(shape) if shape is not None else None
        if self.correction is not None and brush is not None:
            self.correction.brush = brush  # the reviewer's brush size carries over
        self._overlay = None
        self._drag = self._last = self._rubber = None
        self.update()

    def has_image(self) -> bool:
        """True while a part is shown."""
        return self._pixmap is not None

    # -- modes (called by the review view's keys) ----------------------------------

    def set_mode(self, mode: DrawMode) -> None:
        """Draw boxes, paint, or only look; pressing the active mode's key again looks."""
        self.mode = DrawMode.VIEW if mode == self.mode else mode
        if self.mode is not DrawMode.BRUSH:
            self.erasing = False
        self._cursor()
        self.update()

    def toggle_eraser(self) -> None:
        """Switch the brush between painting and erasing (and to brush mode)."""
        self.erasing = not self.erasing or self.mode is not DrawMode.BRUSH
        self.mode = DrawMode.BRUSH
        self._cursor()
        self.update()

    def resize_brush(self, steps: int) -> None:
        """Grow or shrink the brush."""
        if self.correction is not None:
            self.correction.resize_brush(steps)
            self.update()

    def clear_correction(self) -> None:
        """Forget the box and the mask (the brush size and the mode stay)."""
        if self.correction is not None:
            self.correction.clear()
            self._overlay = None
            self.update()

    def hint(self) -> str:
        """The two lines shown under the part: the keys of the mode, and what is drawn."""
        if self.correction is None:
            return "No image kept: the region cannot be corrected"
        mode = {
            DrawMode.VIEW: "Correct the region: B box · M brush",
            DrawMode.BOX: "BOX: drag a rectangle · B done",
            DrawMode.BRUSH: ("ERASER" if self.erasing else "BRUSH")
            + f" {self.correction.brush} px: drag to paint · E eraser · +/− size · M done",
        }[self.mode]
        return f"{mode} · Esc clear\n{self.correction.describe()}"

    # -- mouse -------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """Start a box or a stroke where the button went down."""
        point = self._image_point(event.position())
        if point is None or event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self._drag = self._last = point
        if self.mode is DrawMode.BRUSH and self.correction is not None:
            self.correction.paint(point, point, erase=self.erasing)
            self._mask_changed()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """Drag the box's corner, or paint from the last position to this one."""
        self._hover = event.position()
        point = self._image_point(event.position(), clamp=True)
        if self._drag is not None and point is not None and self.correction is not None:
            if self.mode is DrawMode.BOX:
                self._rubber = (self._drag, point)
            elif self.mode is DrawMode.BRUSH and self._last is not None:
                self.correction.paint(self._last, point, erase=self.erasing)
                self._last = point
                self._mask_changed()
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """Finish the box or the stroke."""
        point = self._image_point(event.position(), clamp=True)
        if self.mode is DrawMode.BOX and self._drag is not None and point is not None:
            if self.correction is not None:
                self.correction.set_box(self._drag, point)
        self._drag = self._last = self._rubber = None
        self.update()

    def leaveEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        """Hide the brush outline when the mouse leaves."""
        self._hover = None
        self.update()
        super().leaveEvent(event)

    # -- painting ----------------------------------------------------------------

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Large: the part is what a reviewer looks at."""
        return QSize(640, 640)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        """The part, the mask in colour, the box, the brush outline and the mode line."""
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#15181c"))
        target = self._target()
        if self._pixmap is None or target is None:
            painter.setPen(QColor("#8a939e"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        correction = self.correction
        if correction is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            overlay = self._mask_overlay()
            if overlay is not None:
                painter.drawImage(target, overlay)
            pen = QPen(QColor(*CORRECTION_RGB), 2)
            if correction.box is not None:
                painter.setPen(pen)
                painter.drawRect(self._widget_rect(correction.box, target))
            if self._rubber is not None:
                pen.setStyle(Qt.PenStyle.DashLine)
                painter.setPen(pen)
                corner, opposite = (self.image_to_widget(p, target) for p in self._rubber)
                painter.drawRect(QRectF(corner, opposite).normalized())
            if self.mode is DrawMode.BRUSH and self._hover is not None:
                radius = (correction.brush + 0.5) * target.width() / correction.shape[1]
                painter.setPen(QPen(QColor("#ffffff"), 1, Qt.PenStyle.DotLine))
                painter.drawEllipse(self._hover, radius, radius)
        strip = QRectF(0, self.height() - _HINT_HEIGHT, self.width(), _HINT_HEIGHT)
        painter.fillRect(strip, QColor(0, 0, 0, 170))
        painter.setPen(QColor("#e6e9ed"))
        flags = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        painter.drawText(strip.adjusted(8, 2, -8, -2), flags, self.hint())

    # -- geometry ----------------------------------------------------------------

    def _target(self) -> QRectF | None:
        """Where the part is drawn: scaled to fit above the mode line, centred."""
        if self._pixmap is None:
            return None
        area = QRectF(0, 0, self.width(), max(1, self.height() - _HINT_HEIGHT))
        size = self._pixmap.size().toSizeF().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF(QPointF(0, 0), size)
        target.moveCenter(area.center())
        return target

    def _image_point(self, position: QPointF, *, clamp: bool = False) -> Point | None:
        """A widget position in image pixels; ``None`` outside the image (unless ``clamp``)."""
        target = self._target()
        if target is None or self.correction is None or self.mode is DrawMode.VIEW:
            return None
        height, width = self.correction.shape
        x = (position.x() - target.x()) * width / target.width()
        y = (position.y() - target.y()) * height / target.height()
        if clamp:
            return min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))
        return (x, y) if 0 <= x < width and 0 <= y < height else None

    def image_to_widget(self, point: Point, target: QRectF | None = None) -> QPointF:
        """Where image pixel coordinates ``(x, y)`` are on the canvas."""
        target = target or self._target() or QRectF(self.rect())
        height, width = self.correction.shape if self.correction else (1, 1)
        return QPointF(
            target.x() + point[0] * target.width() / width,
            target.y() + point[1] * target.height() / height,
        )

    def _widget_rect(self, box: tuple[int, int, int, int], target: QRectF) -> QRectF:
        x, y, w, h = box
        return QRectF(
            self.image_to_widget((x, y), target), self.image_to_widget((x + w, y + h), target)
        )

    def _mask_changed(self) -> None:
        self._overlay = None
        self.update()

    def _mask_overlay(self) -> QImage | None:
        """The painted pixels in translucent cyan, as an image of the mask's size (cached)."""
        mask = self.correction.mask if self.correction is not None else None
        if mask is None:
            return None
        if self._overlay is None:
            rgba = np.zeros((*mask.shape, 4), np.uint8)
            rgba[mask > 0] = (*CORRECTION_RGB, _MASK_ALPHA)
            height, width = mask.shape
            image = QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
            self._overlay = image.copy()  # own the pixels: rgba goes out of scope
        return self._overlay

    def _cursor(self) -> None:
        drawing = self.mode is not DrawMode.VIEW
        self.setCursor(Qt.CursorShape.CrossCursor if drawing else Qt.CursorShape.ArrowCursor)
