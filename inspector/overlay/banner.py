"""The verdict banner: what the gate did with the part, readable from across the room."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from inspector.core.inspection import Inspection
from inspector.core.verdict import Verdict
from inspector.overlay.base import Color

_FONT = cv2.FONT_HERSHEY_DUPLEX

GREEN: Color = (30, 160, 60)
RED: Color = (210, 30, 30)
AMBER: Color = (245, 165, 0)

_TEXT = {
    Verdict.ACCEPT: ("OK", GREEN),
    Verdict.REJECT: ("NG", RED),
    Verdict.REVIEW: ("REVIEW", AMBER),
}


def banner_text(inspection: Inspection) -> tuple[str, Color]:
    """The banner's words and colour for an inspection.

    A part that was not inspected normally (``error`` set, or no score) shows
    NOT INSPECTED in red whatever its verdict: the operator must see that the
    sorting was fail-safe, not a model's judgement.
    """
    if inspection.error is not None or math.isnan(inspection.score):
        return "NOT INSPECTED", RED
    return _TEXT[inspection.verdict]


class BannerAnnotator:
    """A coloured bar with the verdict in large letters.

    :meth:`stacked_above` puts an opaque bar above the image (what every view
    and report shows); :meth:`annotate` paints it over the image's top rows,
    for a caller whose scene must keep its size.

    Args:
        height_fraction: Bar height as a share of the scene height.
        opacity: How much a bar painted by :meth:`annotate` hides the image
            under it (0..1); a stacked bar hides nothing and is opaque.
        text_color: RGB colour of the letters.
    """

    def __init__(
        self,
        height_fraction: float = 0.12,
        opacity: float = 0.85,
        text_color: Color = (255, 255, 255),
    ) -> None:
        if not 0.0 < height_fraction <= 0.5:
            msg = f"height_fraction must be in (0, 0.5], got {height_fraction}"
            raise ValueError(msg)
        if not 0.0 <= opacity <= 1.0:
            msg = f"opacity must be between 0 and 1, got {opacity}"
            raise ValueError(msg)
        self.height_fraction = height_fraction
        self.opacity = opacity
        self.text_color = text_color

    def annotate(self, scene: np.ndarray, inspection: Inspection) -> np.ndarray:
        """Draw the bar and the verdict on ``scene``."""
        bar_h = max(12, round(scene.shape[0] * self.height_fraction))
        self._paint(scene[:bar_h], inspection, self.opacity)
        return scene

    def stacked_above(self, scene: np.ndarray, inspection: Inspection) -> np.ndarray:
        """A new image: the bar above ``scene`` instead of over it, hiding nothing.

        How :func:`~inspector.overlay.compose.render_overlay` shows the verdict
        (live view, part dialog, reports): a defect at the part's top edge stays
        visible. :meth:`annotate` paints over the image instead, for a scene
        whose size must not change.
        """
        bar_h = max(12, round(scene.shape[0] * self.height_fraction))
        stacked = np.zeros((bar_h + scene.shape[0], *scene.shape[1:]), scene.dtype)
        stacked[bar_h:] = scene
        self._paint(stacked[:bar_h], inspection, 1.0)
        return stacked

    def _paint(self, bar: np.ndarray, inspection: Inspection, opacity: float) -> None:
        text, color = banner_text(inspection)
        bar_h, width = bar.shape[:2]
        fill = np.empty_like(bar)
        fill[:] = color
        cv2.addWeighted(fill, opacity, bar, 1.0 - opacity, 0.0, dst=bar)

        left, top, ink_w, ink_h = _ink_box(text)
        font_scale = _REFERENCE_SCALE * min(0.6 * bar_h / ink_h, 0.9 * width / ink_w)
        ratio = font_scale / _REFERENCE_SCALE
        origin = (
            round((width - ink_w * ratio) / 2 - left * ratio),
            round((bar_h - ink_h * ratio) / 2 - top * ratio),
        )
        weight = _weight(font_scale)
        cv2.putText(bar, text, origin, _FONT, font_scale, self.text_color, weight, cv2.LINE_AA)


_REFERENCE_SCALE = 2.0


def _weight(font_scale: float) -> int:
    return max(1, round(font_scale * 1.6))


@functools.cache
def _ink_box(text: str) -> tuple[int, int, int, int]:
    """Where the letters' ink lies relative to the text origin, at the reference scale.

    ``getTextSize`` reports the font's line box, whose ascender space differs
    between OpenCV's fonts and versions; centring on the ink itself keeps the
    word in the middle of the bar with any of them.
    """
    (width, height), _ = cv2.getTextSize(text, _FONT, _REFERENCE_SCALE, _weight(_REFERENCE_SCALE))
    pad = height
    canvas = np.zeros((3 * height + pad, width + 2 * pad), np.uint8)
    origin = (pad, 2 * height)
    cv2.putText(canvas, text, origin, _FONT, _REFERENCE_SCALE, 255, _weight(_REFERENCE_SCALE))
    xs, ys = np.nonzero(canvas.T)
    return (
        int(xs.min()) - origin[0],
        int(ys.min()) - origin[1],
        int(xs.max() - xs.min() + 1),
        int(ys.max() - ys.min() + 1),
    )
