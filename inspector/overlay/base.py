"""The one interface every overlay annotator keeps, and the scaling they share.

Like supervision's annotators: style is fixed in ``__init__``, and
``annotate(scene, inspection)`` draws one kind of thing on the scene and
returns it. The scene may be an upscaled copy of the frame (so text stays
crisp in a large view); annotators map frame coordinates onto it with
:func:`scene_scale`, and give line widths and text sizes for a 256 px high
scene, grown with the scene so a zoomed view looks like the small one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from inspector.core.inspection import Inspection

Color = tuple[int, int, int]
"""An RGB colour, 0..255 per channel."""


@runtime_checkable
class Annotator(Protocol):
    """Draws one thing (heat map, contours, boxes, banner) for an inspection."""

    def annotate(self, scene: np.ndarray, inspection: Inspection) -> np.ndarray:
        """Draw on ``scene`` (RGB ``uint8``, modified in place) and return it.

        ``scene`` shows ``inspection.frame.image``, possibly resized; callers
        that must keep their image pass a copy (as
        :func:`~inspector.overlay.compose.render_overlay` does).
        """
        ...


def scene_scale(scene: np.ndarray, inspection: Inspection) -> tuple[float, float]:
    """How many scene pixels one frame pixel spans, along x and along y."""
    frame_h, frame_w = inspection.frame.image.shape[:2]
    return scene.shape[1] / frame_w, scene.shape[0] / frame_h


def to_scene(points: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Map ``(N, 2)`` frame pixel coordinates to ``int32`` scene coordinates.

    Pixel centres map to pixel centres, so an outline stays on its defect
    at any zoom.
    """
    sx, sy = scale
    xy = np.asarray(points, np.float64).reshape(-1, 2)
    out = np.empty_like(xy)
    out[:, 0] = (xy[:, 0] + 0.5) * sx - 0.5
    out[:, 1] = (xy[:, 1] + 0.5) * sy - 0.5
    return np.rint(out).astype(np.int32)


def box_to_scene(
    box: tuple[int, int, int, int], scale: tuple[float, float]
) -> tuple[int, int, int, int]:
    """Map an ``(x, y, w, h)`` frame box to ``(x0, y0, x1, y1)`` inclusive scene corners."""
    x, y, w, h = box
    sx, sy = scale
    return (
        round(x * sx),
        round(y * sy),
        max(round((x + w) * sx) - 1, round(x * sx)),
        max(round((y + h) * sy) - 1, round(y * sy)),
    )


def line_width(thickness: int, scene: np.ndarray) -> int:
    """Scene line width for a ``thickness`` given at 256 px: lines grow with the view."""
    return max(1, round(thickness * scene.shape[0] / 256))
