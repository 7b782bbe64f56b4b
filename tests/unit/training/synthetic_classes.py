"""Small labelled image sets drawn with OpenCV: a textured part, with or without a defect.

Each class has a look a classifier can learn in a few epochs at 64 px:
``good`` is the bare texture, ``scratch`` adds a dark line, ``spot`` a dark
blob. Defect images get a same-stem ``.png`` mask, as in the real layout, so
the tests also check that masks are not taken for images.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLASSES = ("good", "scratch", "spot")


def part_image(
    kind: str, seed: int, size: tuple[int, int] = (72, 64)
) -> tuple[np.ndarray, np.ndarray]:
    """An RGB ``uint8`` part of ``kind`` and its defect mask (255 on the defect)."""
    rng = np.random.default_rng(seed)
    height, width = size
    grey = rng.normal(150, 12, (height, width)).astype(np.float32)
    grey = cv2.GaussianBlur(grey, (5, 5), 1.5)
    mask = np.zeros((height, width), np.uint8)
    if kind == "scratch":
        x0, x1 = rng.integers(4, width - 4, size=2)
        cv2.line(mask, (int(x0), 2), (int(x1), height - 3), 255, 3)
    elif kind == "spot":
        center = (int(rng.integers(12, width - 12)), int(rng.integers(12, height - 12)))
        cv2.circle(mask, center, int(rng.integers(5, 9)), 255, -1)
    grey[mask > 0] = 40
    image = np.clip(grey, 0, 255).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), mask


def write_dataset(root: Path, per_class: int, seed: int = 0) -> Path:
    """Write ``root/<class>/<stem>.jpg`` (+ ``.png`` masks for defects); returns ``root``."""
    for c, kind in enumerate(CLASSES):
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image, mask = part_image(kind, seed * 10_000 + c * 1000 + i)
            cv2.imwrite(str(folder / f"{kind}_{i:03d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            if kind != "good":
                cv2.imwrite(str(folder / f"{kind}_{i:03d}.png"), mask)
    return root
