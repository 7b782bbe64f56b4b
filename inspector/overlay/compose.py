"""The full overlay for one inspection: heat map, outlines, boxes and verdict banner."""

from __future__ import annotations

import cv2
import numpy as np

from inspector.core.inspection import Inspection
from inspector.overlay.banner import BannerAnnotator
from inspector.overlay.base import Annotator
from inspector.overlay.boxes import BoxAnnotator
from inspector.overlay.contours import ContourAnnotator
from inspector.overlay.heatmap import HeatMapAnnotator

_HEATMAP = HeatMapAnnotator()
_CONTOURS = ContourAnnotator()
_BANNER = BannerAnnotator()
_BOXES = BoxAnnotator()


def render_overlay(
    inspection: Inspection,
    *,
    heatmap: bool = True,
    contours: bool = True,
    boxes: bool = True,
    banner: bool = True,
    scale: float = 1.0,
) -> np.ndarray:
    """Draw an inspection on a new RGB image; the frame's own pixels are never touched.

    Args:
        inspection: The result to show.
        heatmap: Blend the anomaly map (when the inspection has one).
        contours: Outline the defects.
        boxes: Box and label the defects.
        banner: Show the verdict bar, stacked above the image so that it hides
            none of the part (a defect at the top edge stays visible).
        scale: Resize the image before drawing, so that lines and text are
            drawn at the display's resolution and stay crisp in a large view.

    Returns:
        RGB ``uint8`` image of the frame's size times ``scale``, taller by the
        bar's height when ``banner`` is set. A frame
        without pixels (a part whose image could not be read) gets a
        256 px "no image" card, so it can still be shown with its banner.
    """
    if not scale > 0:
        msg = f"scale must be positive, got {scale}"
        raise ValueError(msg)
    image = inspection.frame.image
    if image.size == 0:
        scene = _no_image_card(max(64, round(_CARD_SIZE * scale)))
        return _BANNER.stacked_above(scene, inspection) if banner else scene
    if scale == 1.0:
        scene = image.copy()
    else:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        shrink = scale < 1.0
        scene = cv2.resize(
            image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
    steps: list[tuple[bool, Annotator]] = [
        (heatmap, _HEATMAP),
        (contours, _CONTOURS),
        (boxes, _BOXES),
    ]
    for enabled, annotator in steps:
        if enabled:
            scene = annotator.annotate(scene, inspection)
    return _BANNER.stacked_above(scene, inspection) if banner else scene


def verdict_above(image: np.ndarray, inspection: Inspection) -> np.ndarray:
    """``image`` (the part, or a view of it such as a Grad-CAM) under the verdict
    bar, as :func:`render_overlay` stacks it: switching views keeps the picture's
    shape, so the part does not jump, and the verdict stays in sight. A new image:
    ``image`` itself is left as it is."""
    return _BANNER.stacked_above(image, inspection)


_CARD_SIZE = 256


def _no_image_card(side: int) -> np.ndarray:
    """A dark square saying "no image", standing in for a frame without pixels."""
    card = np.full((side, side, 3), 48, np.uint8)
    text, font = "no image", cv2.FONT_HERSHEY_SIMPLEX
    font_scale = side / 256
    weight = max(1, round(2 * font_scale))
    (width, height), _ = cv2.getTextSize(text, font, font_scale, weight)
    origin = ((side - width) // 2, (side + height) // 2)
    cv2.putText(card, text, origin, font, font_scale, (200, 200, 200), weight, cv2.LINE_AA)
    return card
