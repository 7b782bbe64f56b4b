"""Defect outlines: the exact region each defect covers."""

from __future__ import annotations

import cv2
import numpy as np

from inspector.core.inspection import Inspection
from inspector.overlay.base import Color, box_to_scene, line_width, scene_scale, to_scene


class ContourAnnotator:
    """Outlines each defect; a defect without a contour gets its box instead.

    Magenta by default: it stands out on grey parts, dark belts and every
    colour of the JET heat map, which has no magenta in it.

    Args:
        color: RGB outline colour.
        thickness: Line width at a 256 px high scene (grows with the scene).
    """

    def __init__(self, color: Color = (255, 0, 255), thickness: int = 1) -> None:
        if thickness < 1:
            msg = f"thickness must be at least 1 px, got {thickness}"
            raise ValueError(msg)
        self.color = color
        self.thickness = thickness

    def annotate(self, scene: np.ndarray, inspection: Inspection) -> np.ndarray:
        """Draw every defect's outline on ``scene``."""
        scale = scene_scale(scene, inspection)
        width = line_width(self.thickness, scene)
        for defect in inspection.defects:
            if defect.contour is not None and len(defect.contour) > 0:
                points = to_scene(defect.contour, scale)
                cv2.polylines(scene, [points], True, self.color, width, cv2.LINE_AA)
            else:
                x0, y0, x1, y1 = box_to_scene(defect.box, scale)
                cv2.rectangle(scene, (x0, y0), (x1, y1), self.color, width)
        return scene
