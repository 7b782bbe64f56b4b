"""Synthetic 'parts' for the anomaly-model tests: a textured surface and a dark defect."""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 128


def textured_part(seed: int, size: int = SIZE) -> np.ndarray:
    """A good part: brushed-metal-like texture, a fresh random sample per seed."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (size, size)).astype(np.float32)
    streaks = cv2.GaussianBlur(noise, (0, 0), sigmaX=6.0, sigmaY=0.8)
    grain = cv2.GaussianBlur(noise, (0, 0), sigmaX=1.0)
    grey = 150.0 + 300.0 * streaks + 12.0 * grain
    rgb = np.stack([grey, grey * 0.95, grey * 0.9], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def with_blob(image: np.ndarray, centre: tuple[int, int], radius: int) -> np.ndarray:
    """The same part with a dark round defect at ``centre`` = (x, y)."""
    defect = image.copy()
    cv2.circle(defect, centre, radius, (25, 20, 20), thickness=-1)
    return defect
