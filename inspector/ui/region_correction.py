"""What a reviewer draws over one part: a corrected box and/or a brush mask, in image pixels.

Plain numpy, no Qt: the canvas (:mod:`inspector.ui.region_editor`) turns
mouse positions into image coordinates and calls these methods, so what is
stored is exactly what was painted, at the image's own resolution, whatever
the zoom on screen. Saving is :func:`inspector.storage.review_masks.add_corrected_review`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

Point = tuple[float, float]
MIN_BRUSH, MAX_BRUSH = 1, 256  # brush radius in image pixels
_BRUSH_STEP = 1.25  # each + or - changes the radius by a quarter: fine when small, fast when big


class RegionCorrection:
    """The correction of one image of ``shape`` ``(height, width)``: nothing drawn yet.

    Attributes:
        box: ``(x, y, w, h)`` in image pixels, or ``None``.
        brush: Brush radius in image pixels; starts at 1/40 of the shorter side.
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        height, width = shape
        if height < 1 or width < 1:
            msg = f"a correction needs an image of at least 1x1 pixels, got {width}x{height}"
            raise ValueError(msg)
        self.shape = (int(height), int(width))
        self.box: tuple[int, int, int, int] | None = None
        self.brush = max(2, min(self.shape) // 40)
        self._mask: np.ndarray | None = None  # allocated on the first stroke

    @property
    def is_empty(self) -> bool:
        """Whether nothing would be stored: no box and no painted pixel."""
        return self.box is None and self.mask is None

    @property
    def mask(self) -> np.ndarray | None:
        """The painted mask (``uint8``, 255 = defect), or ``None`` while no pixel is painted."""
        return self._mask if self._mask is not None and self._mask.any() else None

    def painted_pixels(self) -> int:
        """How many pixels the mask marks."""
        return 0 if self._mask is None else int(np.count_nonzero(self._mask))

    def set_box(self, corner: Point, opposite: Point) -> bool:
        """Make the box spanned by two corners (clipped to the image); ``False`` if too small.

        A box under 2 pixels a side is a click, not a drag: the previous box stays.
        """
        height, width = self.shape
        left = max(0, math.floor(min(corner[0], opposite[0])))
        top = max(0, math.floor(min(corner[1], opposite[1])))
        right = min(width, math.ceil(max(corner[0], opposite[0])))
        bottom = min(height, math.ceil(max(corner[1], opposite[1])))
        if right - left < 2 or bottom - top < 2:
            return False
        self.box = (left, top, right - left, bottom - top)
        return True

    def paint(self, start: Point, end: Point, *, erase: bool = False) -> None:
        """Paint (or erase) a stroke of the brush's width from ``start`` to ``end``."""
        if self._mask is None:
            if erase:
                return
            self._mask = np.zeros(self.shape, np.uint8)
        value = 0 if erase else 255
        a = (round(start[0]), round(start[1]))
        b = (round(end[0]), round(end[1]))
        cv2.line(self._mask, a, b, value, thickness=2 * self.brush + 1, lineType=cv2.LINE_8)
        for centre in (a, b):  # round ends, so that a click paints a dot
            cv2.circle(self._mask, centre, self.brush, value, thickness=-1)

    def resize_brush(self, steps: int) -> int:
        """Grow (``steps > 0``) or shrink the brush by ``steps`` steps; returns the new radius."""
        radius = self.brush * _BRUSH_STEP**steps
        changed = math.ceil(radius) if steps > 0 else math.floor(radius)
        if changed == self.brush:
            changed += 1 if steps > 0 else -1
        self.brush = min(MAX_BRUSH, max(MIN_BRUSH, changed))
        return self.brush

    def clear(self) -> None:
        """Forget the box and the mask (the brush size stays)."""
        self.box = None
        self._mask = None

    def describe(self) -> str:
        """One line for the reviewer: what will be stored with the review."""
        parts = []
        if self.box is not None:
            x, y, w, h = self.box
            parts.append(f"box {w}×{h} at ({x}, {y})")
        if self.mask is not None:
            parts.append(f"mask {self.painted_pixels():,} px")
        return "Correction: " + (", ".join(parts) if parts else "none (the machine's region)")
