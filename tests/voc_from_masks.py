"""A Pascal VOC set made from real images with masks: one box per connected mask region.

Tests (and the detection measurement in the README) need a VOC set whose
boxes are real defects; magnetic-tile has masks, so each mask's connected
regions become ``<object>`` boxes named after the image's class folder.
``good`` images get an annotation without objects.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from inspector.ml.segmenter_boxes import mask_boxes


def _xml(filename: str, size: tuple[int, int], objects: Iterable[tuple[str, tuple]]) -> str:
    boxes = "".join(
        f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x}</xmin>"
        f"<ymin>{y}</ymin><xmax>{x + w}</xmax><ymax>{y + h}</ymax></bndbox></object>"
        for name, (x, y, w, h) in objects
    )
    return (
        f"<annotation><filename>{filename}</filename><size><width>{size[0]}</width>"
        f"<height>{size[1]}</height><depth>3</depth></size>{boxes}</annotation>"
    )


def write_voc(images: Iterable[Path], out: Path) -> Path:
    """Write ``out/JPEGImages`` and ``out/Annotations`` for ``<class>/<stem>.jpg`` images.

    Each image's mask (``<stem>.png`` beside it, absent for ``good``) gives the boxes.
    """
    (out / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (out / "Annotations").mkdir(parents=True, exist_ok=True)
    for image in images:
        label = image.parent.name
        name = f"{label}_{image.name}"
        shutil.copyfile(image, out / "JPEGImages" / name)
        height, width = cv2.imread(str(image)).shape[:2]
        mask_file = image.with_suffix(".png")
        mask = (
            cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE)
            if label != "good" and mask_file.exists()
            else np.zeros((height, width), np.uint8)
        )
        objects = [(label, box) for box in mask_boxes(mask)]
        text = _xml(name, (width, height), objects)
        (out / "Annotations" / f"{Path(name).stem}.xml").write_text(text, encoding="utf-8")
    return out
