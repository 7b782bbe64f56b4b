"""The anomaly heat map, blended over the part where it matters."""

from __future__ import annotations

import math

import cv2
import numpy as np

from inspector.core.inspection import Inspection


class HeatMapAnnotator:
    """Colours the part by its anomaly map, measured against the decision threshold.

    The map is divided by the threshold in force, so a colour means the same
    on every part and every model: with the defaults, 0.8x the threshold and
    below leaves the image untouched (patch-distance maps of good parts sit at
    about 0.6-0.9x, and tinting every good part teaches operators to ignore the
    colour), the threshold itself is cool blue-cyan, and 1.5x the threshold is
    the hot end.
    The blend weight grows with that value too, so the good areas of a part
    stay readable and only suspect regions are painted.

    Args:
        alpha: Blend weight at the hot end (0..1).
        colormap: An OpenCV colour map id, e.g. ``cv2.COLORMAP_JET``.
        low: Map/threshold ratio below which nothing is drawn.
        high: Map/threshold ratio drawn with the hottest colour and full ``alpha``.
    """

    def __init__(
        self,
        alpha: float = 0.45,
        colormap: int = cv2.COLORMAP_JET,
        low: float = 0.8,
        high: float = 1.5,
    ) -> None:
        if not 0.0 <= alpha <= 1.0:
            msg = f"alpha must be between 0 and 1, got {alpha}"
            raise ValueError(msg)
        if not 0.0 <= low < high:
            msg = f"need 0 <= low < high, got low={low}, high={high}"
            raise ValueError(msg)
        self.alpha = alpha
        self.colormap = colormap
        self.low = low
        self.high = high

    def annotate(self, scene: np.ndarray, inspection: Inspection) -> np.ndarray:
        """Blend the heat map over ``scene``; no-op when the inspection has no map."""
        anomaly_map = inspection.anomaly_map
        if anomaly_map is None or anomaly_map.size == 0 or self.alpha == 0.0:
            return scene
        reference = _reference_level(anomaly_map, inspection.threshold)
        if reference is None:
            return scene
        ratio = np.nan_to_num(anomaly_map.astype(np.float32) / np.float32(reference))
        level = np.clip((ratio - self.low) / (self.high - self.low), 0.0, 1.0)
        height, width = scene.shape[:2]
        if level.shape != (height, width):
            level = cv2.resize(level, (width, height), interpolation=cv2.INTER_LINEAR)
        colours = cv2.applyColorMap(np.rint(level * 255).astype(np.uint8), self.colormap)
        colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB)  # colour maps come out BGR
        weight = level * np.float32(self.alpha)
        scene[:] = cv2.blendLinear(colours, scene, weight, 1.0 - weight)
        return scene


def _reference_level(anomaly_map: np.ndarray, threshold: float) -> float | None:
    """The value that counts as "at threshold": the threshold, else the map's own maximum.

    A part decided without a usable threshold (``nan`` or not positive) still
    gets a relative picture rather than none; an all-zero map gets nothing.
    """
    if math.isfinite(threshold) and threshold > 0:
        return float(threshold)
    peak = float(np.nanmax(anomaly_map))
    return peak if math.isfinite(peak) and peak > 0 else None
