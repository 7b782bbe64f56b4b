"""Boxes from a segmenter's probability maps: connected components of the thresholded map.

This is how ``inspector train --task detect`` detects: a segmenter trained
on filled boxes, whose predicted regions become boxes (see
:mod:`inspector.training.train_segmenter` for why it is not an anchor-based
detector). numpy and OpenCV only, so it runs wherever the maps are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

MIN_BOX_PIXELS = 4
"""Components smaller than this are noise at any image size worth inspecting."""
MIN_BOX_FRACTION = 0.001
"""Boxes covering less than this share of the image are dropped: on magnetic-tile's
validation images they were mostly specks on good surfaces (box precision 0.19 -> 0.30
at the same recall 0.58, threshold 0.5)."""


@dataclass(frozen=True)
class DetectedBox:
    """One detected region.

    Attributes:
        bbox: ``(x, y, w, h)`` in image pixels.
        label: The output map most probable inside the region (its class).
        score: Highest probability inside the region.
    """

    bbox: tuple[int, int, int, int]
    label: str
    score: float


def boxes_from_maps(
    maps: np.ndarray,
    names: Sequence[str],
    threshold: float = 0.5,
    min_fraction: float = MIN_BOX_FRACTION,
) -> list[DetectedBox]:
    """The boxes of one image's probability maps ``(K, H, W)``, largest score first.

    A region is a connected component (8-connected) of the pixels whose
    highest probability over the maps reaches ``threshold``; its label is the
    map with the highest mean probability inside it. Regions of fewer than
    :data:`MIN_BOX_PIXELS` pixels and boxes smaller than ``min_fraction`` of
    the image are not reported.

    Raises:
        ValueError: ``maps`` is not ``(K, H, W)`` with ``K == len(names)``, or
            ``threshold`` is not in (0, 1).
    """
    if maps.ndim != 3 or maps.shape[0] != len(names):
        msg = f"maps of shape {maps.shape} do not fit {len(names)} output names"
        raise ValueError(msg)
    if not 0.0 < threshold < 1.0:
        msg = f"threshold must be in (0, 1), got {threshold}"
        raise ValueError(msg)
    peak = maps.max(axis=0)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (peak >= threshold).astype(np.uint8), connectivity=8
    )
    boxes = []
    smallest_box = min_fraction * peak.size
    for index in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[index])
        if area < MIN_BOX_PIXELS or w * h < smallest_box:
            continue
        inside = labels == index
        label = names[int(np.argmax([m[inside].mean() for m in maps]))]
        boxes.append(DetectedBox((x, y, w, h), label, float(peak[inside].max())))
    return sorted(boxes, key=lambda b: -b.score)


def mask_boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """``(x, y, w, h)`` of each connected component of a ``uint8`` mask (> 127 is defect).

    The ground truth of a box-supervised set: its masks are filled boxes, so
    each separate box comes back (overlapping boxes merge into their union).
    """
    count, _, stats, _ = cv2.connectedComponentsWithStats(
        (mask > 127).astype(np.uint8), connectivity=8
    )
    return [tuple(int(v) for v in stats[i][:4]) for i in range(1, count)]
