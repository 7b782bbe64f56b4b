"""Figures of several views of one part side by side, each with its caption.

``inspector explain`` writes one PNG per image with the image, its Grad-CAM
and, when an anomaly model is given, its anomaly overlay: a person compares
them at a glance only when they sit at the same scale, in one row, with the
numbers written under each. numpy/OpenCV only, like every overlay.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BACKGROUND = 255
_TEXT = (20, 20, 20)
_GAP = 8
_LINE_HEIGHT = 22
_TEXT_SCALE = 0.5


def captioned_row(
    panels: Sequence[tuple[np.ndarray, Sequence[str]]], *, height: int = 320
) -> np.ndarray:
    """One RGB image: each panel scaled to ``height`` px, in a row, its lines of text below.

    Args:
        panels: ``(RGB uint8 image, caption lines)`` pairs, left to right.
        height: Height every image is scaled to (aspect ratio kept).

    Raises:
        ValueError: no panels, an image that is not RGB ``uint8``, or ``height`` < 16.
    """
    if not panels:
        msg = "a figure needs at least one panel"
        raise ValueError(msg)
    if height < 16:
        msg = f"panel height must be at least 16 px, got {height}"
        raise ValueError(msg)
    lines = max(len(caption) for _, caption in panels)
    columns = []
    for index, (image, caption) in enumerate(panels):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            msg = f"panel {index} is {image.dtype} {image.shape}, expected RGB uint8 (H, W, 3)"
            raise ValueError(msg)
        width = max(1, round(image.shape[1] * height / image.shape[0]))
        text_width = max((_text_width(line) for line in caption), default=0)
        column = np.full(
            (height + _GAP + lines * _LINE_HEIGHT, max(width, text_width), 3), _BACKGROUND, np.uint8
        )
        shrink = height < image.shape[0]
        column[:height, :width] = cv2.resize(
            image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
        for k, line in enumerate(caption):
            baseline = height + _GAP + (k + 1) * _LINE_HEIGHT - 6
            cv2.putText(column, line, (0, baseline), _FONT, _TEXT_SCALE, _TEXT, 1, cv2.LINE_AA)
        columns.append(column)
    spacer = np.full((columns[0].shape[0], _GAP * 2, 3), _BACKGROUND, np.uint8)
    row = [columns[0]]
    for column in columns[1:]:
        row += [spacer, column]
    return np.ascontiguousarray(np.concatenate(row, axis=1))


def _text_width(line: str) -> int:
    (width, _), _ = cv2.getTextSize(line, _FONT, _TEXT_SCALE, 1)
    return width
