"""Defect regions from an anomaly map: connected areas above the threshold."""

from __future__ import annotations

import cv2
import numpy as np

from inspector.core.inspection import Defect

ANOMALY_KIND = "anomaly"


def region_confidence(peak: float, threshold: float) -> float:
    """Map a region's peak score to 0..1: 0.5 at the threshold, 1.0 at twice it.

    A monotone, model-independent reading of "how far over the line" a region is,
    so operators see comparable numbers across models with different score scales.
    """
    return float(np.clip(0.5 * peak / threshold, 0.0, 1.0))


def find_defect_regions(
    anomaly_map: np.ndarray,
    threshold: float | np.ndarray,
    *,
    min_area_px: int = 0,
    kind: str = ANOMALY_KIND,
) -> tuple[Defect, ...]:
    """Return one Defect per connected region of ``anomaly_map >= threshold``.

    ``threshold`` is one number or a per-pixel map (zones; ``inf`` where
    ignored). Regions smaller than ``min_area_px`` are dropped. Defects are
    sorted by confidence, highest first.
    """
    ratio = anomaly_map / np.asarray(threshold, dtype=np.float32)
    mask = (ratio >= 1.0).astype(np.uint8)
    if not mask.any():
        return ()
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    defects = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < min_area_px:
            continue
        region = (labels[y : y + h, x : x + w] == label).astype(np.uint8)
        peak_ratio = float(ratio[y : y + h, x : x + w][region.astype(bool)].max())
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        outline = max(contours, key=cv2.contourArea).reshape(-1, 2) + np.array([x, y])
        defects.append(
            Defect(
                kind=kind,
                confidence=region_confidence(peak_ratio, 1.0),
                box=(x, y, w, h),
                area_px=area,
                contour=outline.astype(np.int32),
            )
        )
    return tuple(sorted(defects, key=lambda d: d.confidence, reverse=True))
