"""Zones of a part with their own rules: ignored areas and stricter or looser thresholds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Zone:
    """A rectangle of the part with its own rule.

    Coordinates are fractions of the image (0..1), so a zone means the same
    area whatever the camera's resolution.

    Attributes:
        name: Shown to people and stored in the rules' version.
        box: ``(x, y, w, h)`` as fractions of the image width and height.
        ignore: Nothing in this zone counts (edges, labels, fixtures).
        threshold: The zone's own threshold (None: the station's).
        min_defect_area_px: The zone's own minimum defect area (None: the station's).
    """

    name: str
    box: tuple[float, float, float, float]
    ignore: bool = False
    threshold: float | None = None
    min_defect_area_px: int | None = None

    def __post_init__(self) -> None:
        x, y, w, h = self.box
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9):
            msg = f"zone {self.name!r}: box {self.box} must lie inside the image (fractions 0..1)"
            raise ValueError(msg)
        positive = self.threshold is None or (math.isfinite(self.threshold) and self.threshold > 0)
        if not positive:
            msg = f"zone {self.name!r}: threshold must be a positive number, got {self.threshold}"
            raise ValueError(msg)
        if self.min_defect_area_px is not None and self.min_defect_area_px < 0:
            msg = f"zone {self.name!r}: min_defect_area_px must be >= 0"
            raise ValueError(msg)

    def pixels(self, height: int, width: int) -> tuple[slice, slice]:
        """The zone as row and column slices of an image of this size."""
        x, y, w, h = self.box
        return (
            slice(round(y * height), max(round((y + h) * height), round(y * height) + 1)),
            slice(round(x * width), max(round((x + w) * width), round(x * width) + 1)),
        )


def threshold_map(shape: tuple[int, int], threshold: float, zones: tuple[Zone, ...]) -> np.ndarray:
    """Per-pixel thresholds: the station's, overridden by zones in order (later wins).

    Ignored zones get an infinite threshold, so nothing there ever counts.
    """
    thresholds = np.full(shape, threshold, dtype=np.float32)
    for zone in zones:
        rows, cols = zone.pixels(*shape)
        if zone.ignore:
            thresholds[rows, cols] = np.inf
        elif zone.threshold is not None:
            thresholds[rows, cols] = zone.threshold
    return thresholds


def zone_at(zones: tuple[Zone, ...], shape: tuple[int, int], row: int, col: int) -> Zone | None:
    """The last (winning) non-ignored zone containing a pixel, if any."""
    for zone in reversed(zones):
        rows, cols = zone.pixels(*shape)
        if not zone.ignore and rows.start <= row < rows.stop and cols.start <= col < cols.stop:
            return zone
    return None
