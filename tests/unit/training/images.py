"""Tiny real image files for dataset-import tests, written with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_image(path: Path, seed: int, size: tuple[int, int] = (16, 20)) -> Path:
    """A noise image of ``size`` (height, width), unique per seed, in the format of its suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), pixels)
    return path


def write_mask(path: Path, size: tuple[int, int] = (16, 20), box: tuple[int, ...] = (2, 3, 5, 4)):
    """A 0/255 mask of ``size`` with the rectangle ``box`` = (x, y, w, h) set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.zeros(size, np.uint8)
    x, y, w, h = box
    mask[y : y + h, x : x + w] = 255
    assert cv2.imwrite(str(path), mask)
    return path


def truncate(path: Path) -> Path:
    """Cut the file in half, as an interrupted copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
