"""The reference image of the part with its decision zones, where the engineer drags new ones.

A thin view: it paints the image and the zones it is given and reports a
dragged rectangle (in image pixels) or a click on a zone; the drawer turns
those into :class:`~inspector.decision.zones.Zone` values. Ignored zones are
greyed and hatched (nothing there counts); zones with their own rules are
outlined and labelled with them, so the picture reads like the rules.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from inspector.decision.zones import Zone
from inspector.ui.qt_image import to_pixmap

BACKGROUND = QColor("#15181c")
IGNORED_FILL = QColor(40, 44, 50, 170)
IGNORED_HATCH = QColor("#9aa4b1")
RULE_OUTLINE = QColor("#e0a526")  # amber: these areas are judged differently
SELECTED = QColor("#4fc3f7")
#: A drag shorter than this (widget pixels) is a click that selects a zone.
CLICK_PX = 4


class ZoneCanvas(QWidget):
    """Paints the reference image scaled to fit, its zones, and the rectangle being dragged."""

    #: A rectangle was dragged: start and end corners as ``(x, y)`` in image pixels.
    rectangle_drawn = Signal(tuple, tuple)
    #: A click selected the zone at this index (-1: none there).
    zone_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._zones: tuple[Zone, ...] = ()
        self._selected = -1
        self._drag_start: QPointF | None = None
        self._drag_end: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 180)
        self.setCursor(Qt.CursorShape.CrossCursor)

    # -- state ---------------------------------------------------------------------

    def set_image(self, image: np.ndarray) -> None:
        """Use ``image`` (RGB ``uint8``) as the reference the zones are drawn on."""
        self._pixmap = to_pixmap(image)
        self.update()

    def image_size(self) -> QSize | None:
        """The reference image's size in pixels, or ``None`` before one is chosen."""
        return None if self._pixmap is None else self._pixmap.size()

    def set_zones(self, zones: tuple[Zone, ...], selected: int = -1) -> None:
        """Show ``zones``, highlighting the one at ``selected``."""
        self._zones = zones
        self._selected = selected
        self.update()

    def image_rect(self) -> QRect:
        """Where the image is painted in the widget (scaled to fit, centred)."""
        if self._pixmap is None:
            return QRect()
        size = self._pixmap.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(self.rect().center())
        return target

    def to_image(self, point: QPointF) -> tuple[float, float]:
        """A widget position as ``(x, y)`` in image pixels (may lie outside the image)."""
        target = self.image_rect()
        scale = self._pixmap.width() / max(target.width(), 1)
        return ((point.x() - target.x()) * scale, (point.y() - target.y()) * scale)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(560, 420)

    # -- mouse ---------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._pixmap is None or event.button() != Qt.MouseButton.LeftButton:
            return
        self._drag_start = self._drag_end = event.position()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._drag_start is not None:
            self._drag_end = event.position()
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        start = self._drag_start
        if start is None or event.button() != Qt.MouseButton.LeftButton:
            return
        end = event.position()
        self._drag_start = self._drag_end = None
        self.update()
        if (end - start).manhattanLength() < CLICK_PX:
            self.zone_clicked.emit(self._zone_under(end))
        else:
            self.rectangle_drawn.emit(self.to_image(start), self.to_image(end))

    def _zone_under(self, point: QPointF) -> int:
        """The topmost zone (the one that wins in the rules: the last) under a widget point."""
        for index in reversed(range(len(self._zones))):
            if self._zone_rect(self._zones[index]).contains(point):
                return index
        return -1

    # -- painting ------------------------------------------------------------------

    def _zone_rect(self, zone: Zone) -> QRectF:
        target = QRectF(self.image_rect())
        x, y, w, h = zone.box
        return QRectF(
            target.x() + x * target.width(),
            target.y() + y * target.height(),
            w * target.width(),
            h * target.height(),
        )

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self._pixmap is None:
            painter.setPen(QColor("#8a939e"))
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "Choose a reference image of the part: the latest live frame or an image file",
            )
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(self.image_rect(), self._pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for index, zone in enumerate(self._zones):
            self._paint_zone(painter, zone, selected=index == self._selected)
        if self._drag_start is not None and self._drag_end is not None:
            painter.setPen(QPen(SELECTED, 2, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self._drag_start, self._drag_end).normalized())

    def _paint_zone(self, painter: QPainter, zone: Zone, *, selected: bool) -> None:
        rect = self._zone_rect(zone)
        colour = SELECTED if selected else (IGNORED_HATCH if zone.ignore else RULE_OUTLINE)
        if zone.ignore:
            painter.fillRect(rect, IGNORED_FILL)
            painter.fillRect(rect, QBrush(IGNORED_HATCH, Qt.BrushStyle.BDiagPattern))
        painter.setPen(QPen(colour, 3 if selected else 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        label = _label(zone)
        metrics = painter.fontMetrics()
        box = QRectF(metrics.boundingRect(label)).adjusted(-4, -2, 4, 2)
        box.moveTopLeft(rect.topLeft() + QPointF(2, 2))
        painter.fillRect(box, QColor(21, 24, 28, 210))
        painter.setPen(colour)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)


def _label(zone: Zone) -> str:
    """The zone's name and what it changes, as painted on the image."""
    if zone.ignore:
        return f"{zone.name}: ignored"
    rules = []
    if zone.threshold is not None:
        rules.append(f"threshold {zone.threshold:g}")
    if zone.min_defect_area_px is not None:
        rules.append(f"min {zone.min_defect_area_px} px")
    return f"{zone.name}: {', '.join(rules)}" if rules else zone.name
