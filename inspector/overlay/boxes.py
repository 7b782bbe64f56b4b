"""Defect boxes with a "kind confidence" label."""

from __future__ import annotations

import cv2
import numpy as np

from inspector.core.inspection import Defect, Inspection
from inspector.overlay.base import Color, box_to_scene, line_width, scene_scale

_FONT = cv2.FONT_HERSHEY_SIMPLEX


class BoxAnnotator:
    """Draws each defect's box and labels it ``"kind 0.93"`` on a filled tag.

    The tag sits above the box, or inside it when there is no room above
    (the image's top edge), and is shifted left when it
    would run off the right edge: a label is never cut or hidden.

    Args:
        color: RGB colour of box and tag.
        thickness: Box line width at a 256 px high scene (grows with the scene).
        text_color: RGB colour of the label text.
        text_scale: OpenCV font scale at a 256 px high scene; grows with the scene
            so labels keep their size relative to the part.
        labels: Draw the tags (boxes only when ``False``).
    """

    def __init__(
        self,
        color: Color = (255, 200, 0),
        thickness: int = 1,
        text_color: Color = (0, 0, 0),
        text_scale: float = 0.35,
        labels: bool = True,
    ) -> None:
        if thickness < 1:
            msg = f"thickness must be at least 1 px, got {thickness}"
            raise ValueError(msg)
        self.color = color
        self.thickness = thickness
        self.text_color = text_color
        self.text_scale = text_scale
        self.labels = labels

    def annotate(self, scene: np.ndarray, inspection: Inspection) -> np.ndarray:
        """Draw every defect's box and tag on ``scene``."""
        scale = scene_scale(scene, inspection)
        width = line_width(self.thickness, scene)
        for defect in inspection.defects:
            x0, y0, x1, y1 = box_to_scene(defect.box, scale)
            cv2.rectangle(scene, (x0, y0), (x1, y1), self.color, width)
            if self.labels:
                self._tag(scene, defect, x0, y0)
        return scene

    def _tag(self, scene: np.ndarray, defect: Defect, x0: int, y0: int) -> None:
        height, width = scene.shape[:2]
        font_scale = self.text_scale * max(height, 128) / 256
        weight = max(1, round(font_scale * 2.5))
        text = f"{defect.kind} {defect.confidence:.2f}"
        (text_w, text_h), baseline = cv2.getTextSize(text, _FONT, font_scale, weight)
        pad = max(2, round(font_scale * 6))
        tag_w, tag_h = text_w + 2 * pad, text_h + baseline + 2 * pad
        left = min(max(x0, 0), max(width - tag_w, 0))
        top = y0 - tag_h if y0 >= tag_h else min(max(y0, 0), max(height - tag_h, 0))
        cv2.rectangle(scene, (left, top), (left + tag_w - 1, top + tag_h - 1), self.color, -1)
        origin = (left + pad, top + pad + text_h)
        cv2.putText(scene, text, origin, _FONT, font_scale, self.text_color, weight, cv2.LINE_AA)
