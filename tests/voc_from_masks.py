"""Pascal VOC sets made from real images with masks: one box per connected mask region.

Tests (and the detection measurement in the README) need a VOC set whose
boxes are real defects; magnetic-tile has masks, so each mask's connected
regions become ``<object>`` boxes named after the image's class folder.
``good`` images get an annotation without objects.

:func:`write_neu_like_voc` is the rehearsal for a steel-defect set never seen
before (NEU-DET: 200x200 grey images, six classes, several boxes per image,
no defect-free class): the same real defects laid out and written the way such
sets are in the wild, quirks included. Run as a script to build one::

    .venv/bin/python -m tests.voc_from_masks SOURCE_SPLIT OUT [--per-class N]
"""

from __future__ import annotations

import argparse
import random
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from inspector.ml.segmenter_boxes import mask_boxes

NEU_SIDE = 200
WHOLE_SURFACE_CLASS = "plain"
"""Sixth class of the rehearsal: defect-free tiles as one whole-image box, like NEU's
texture classes (crazing, rolled-in scale) that cover the whole image."""


def _xml(
    filename: str,
    size: tuple[int, int],
    objects: Iterable[tuple[str, tuple]],
    *,
    folder: str = "",
    path: str = "",
    depth: int = 3,
) -> str:
    boxes = "".join(
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>{int(x == 0)}</truncated>"
        f"<difficult>{n % 2}</difficult><bndbox><xmin>{x}</xmin>"
        f"<ymin>{y}</ymin><xmax>{x + w}</xmax><ymax>{y + h}</ymax></bndbox></object>"
        for n, (name, (x, y, w, h)) in enumerate(objects)
    )
    extra = (f"<folder>{folder}</folder>" if folder else "") + (
        f"<path>{path}</path>" if path else ""
    )
    return (
        f"<annotation>{extra}<filename>{filename}</filename><source><database>Unknown"
        f"</database></source><size><width>{size[0]}</width><height>{size[1]}</height>"
        f"<depth>{depth}</depth></size><segmented>0</segmented>{boxes}</annotation>"
    )


def _mask(image: Path, label: str, shape: tuple[int, int]) -> np.ndarray:
    mask_file = image.with_suffix(".png")
    if label != "good" and mask_file.exists():
        return cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE)
    return np.zeros(shape, np.uint8)


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
        objects = [(label, box) for box in mask_boxes(_mask(image, label, (height, width)))]
        text = _xml(name, (width, height), objects)
        (out / "Annotations" / f"{Path(name).stem}.xml").write_text(text, encoding="utf-8")
    return out


def write_neu_like_voc(
    images: Sequence[Path],
    out: Path,
    *,
    image_sets: bool = False,
    second_class_every: int = 25,
    seed: int = 0,
) -> Path:
    """A NEU-DET-like VOC tree of ``<class>/<stem>.jpg`` images with masks; returns ``out``.

    Images become 200x200 grey; ``good`` ones become the whole-surface class
    :data:`WHOLE_SURFACE_CLASS`, so no class is defect-free. Quirks, spread
    over the images: ``ANNOTATIONS/`` + ``IMAGES/<class>/`` (or the devkit's
    ``Annotations/`` + ``JPEGImages/`` + ``ImageSets/Main`` with
    ``image_sets``), ``<path>`` naming another machine's file, ``<filename>``
    without an extension or with ``.jpg`` for a BMP file, upper-case ``.JPG``,
    PNG and BMP files, ``truncated``/``difficult`` flags, grey ``depth`` 1, and
    every ``second_class_every``-th image with a small box of another class.
    """
    rng = random.Random(seed)
    annotations = out / ("Annotations" if image_sets else "ANNOTATIONS")
    annotations.mkdir(parents=True, exist_ok=True)
    classes = sorted({p.parent.name for p in images})
    stems = []
    for n, image in enumerate(sorted(images)):
        label = image.parent.name
        name = WHOLE_SURFACE_CLASS if label == "good" else label
        grey = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
        height, width = grey.shape
        small = cv2.resize(grey, (NEU_SIDE, NEU_SIDE), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(_mask(image, label, (height, width)), (NEU_SIDE, NEU_SIDE))
        boxes = [(name, box) for box in mask_boxes(mask) if box[2] > 1 and box[3] > 1]
        if label == "good" or not boxes:
            boxes = [(name, (0, 0, NEU_SIDE - 1, NEU_SIDE - 1))]
        if second_class_every and n % second_class_every == 1:
            other = rng.choice([c for c in classes if c not in (label, "good")])
            boxes.append((other, (5, 5, 12, 12)))
        stem = f"{name}_{n}"
        ext, written_ext = {0: (".jpg", ".jpg"), 1: (".bmp", ".jpg"), 2: (".png", ".png")}.get(
            n % 7, (".jpg", ".jpg")
        )
        if n % 7 == 3:
            ext = written_ext = ".JPG"
        folder = out / "JPEGImages" if image_sets else out / "IMAGES" / name
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{stem}{ext}"), small)
        filename = stem if n % 7 == 4 else f"{stem}{written_ext}"
        text = _xml(
            filename,
            (NEU_SIDE, NEU_SIDE),
            boxes,
            folder=name[:2],
            path=f"C:\\Users\\someone\\NEU-DET\\IMAGES\\{stem}{written_ext}" if n % 3 else "",
            depth=1,
        )
        (annotations / f"{stem}.xml").write_text(text, encoding="utf-8")
        stems.append(stem)
    if image_sets:
        main = out / "ImageSets" / "Main"
        main.mkdir(parents=True, exist_ok=True)
        shuffled = rng.sample(stems, len(stems))
        cut = len(stems) * 4 // 5
        for part, names in (("train", shuffled[:cut]), ("val", shuffled[cut:])):
            (main / f"{part}.txt").write_text("\n".join(sorted(names)) + "\n", encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Build a NEU-like VOC tree from a magnetic-tile split (``<class>/<stem>.jpg`` + masks)."""
    parser = argparse.ArgumentParser(description=write_neu_like_voc.__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class", type=int, default=80, help="most images per class")
    parser.add_argument("--image-sets", action="store_true", help="devkit layout")
    args = parser.parse_args(argv)
    images = []
    for folder in sorted(p for p in args.source.iterdir() if p.is_dir()):
        jpgs = sorted(folder.glob("*.jpg"))
        images += random.Random(folder.name).sample(jpgs, min(args.per_class, len(jpgs)))
    write_neu_like_voc(images, args.out, image_sets=args.image_sets)


if __name__ == "__main__":
    main()
