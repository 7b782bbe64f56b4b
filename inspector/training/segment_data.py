"""Images and masks for segmenter training: which images, which output maps, the pixels.

The layout is the classifier's (``<class>/<stem>.<ext>`` with its mask beside
it, see :mod:`inspector.training.dataset_layout`), read by the same listing.
A defective image must have a mask (it says where the defect is; without it
the model would learn that the defect is background), so one without is an
error naming the images, never a silent skip. A ``good`` image has an empty
mask unless it comes with one.

What the model predicts depends on the task:

* ``segment``: one map, *defect vs background*. Every defect class
  counts, the part's class is left to the classifier (which sees the whole
  image and already does it well); one map learns from every defective
  image instead of splitting a few hundred images over six maps.
* ``detect``: one map per defect class, the image's mask in its class's
  map. Images are classed by the folder they sit in (a VOC import puts an
  image in the folder of its largest box), so all boxes of an image take
  that class.

Masks are resized to the model input with ``cv2.INTER_AREA`` and kept soft
(0-255): a crack one pixel wide in the original stays a faint line instead of
vanishing under a threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from inspector.acquisition.image_files import read_image
from inspector.core.errors import SourceError
from inspector.training.classifier_data import list_class_images, stratified_split
from inspector.training.evaluate import LabelledImage
from inspector.training.voc import ANNOTATION_FOLDERS

TASKS = ("segment", "detect")
DEFECT_OUTPUT = "defect"
"""The one output map's name for ``segment``."""
NO_TARGET = -1
"""Target map of a good image: none, its mask is empty everywhere."""


def output_names(items: Sequence[LabelledImage], task: str) -> tuple[str, ...]:
    """The model's output maps: ``("defect",)`` to segment, the defect classes to detect.

    Raises:
        ValueError: ``task`` is not ``segment`` or ``detect``.
        SourceError: there is no defective image to learn from.
    """
    if task not in TASKS:
        msg = f"task {task!r} is not one of {', '.join(TASKS)}"
        raise ValueError(msg)
    defects = sorted({item.defect_class for item in items if item.defective})
    if not defects:
        msg = "no defective images (only 'good'): a segmenter needs defect images with masks"
        raise SourceError(msg)
    return (DEFECT_OUTPUT,) if task == "segment" else tuple(defects)


def target_maps(items: Sequence[LabelledImage], names: Sequence[str]) -> np.ndarray:
    """Index of each image's output map (``NO_TARGET`` for ``good``), as ``int64``.

    Raises:
        SourceError: an image's class has no output map (a validation class
            the training images lack).
    """
    out = np.full(len(items), NO_TARGET, np.int64)
    for i, item in enumerate(items):
        if not item.defective:
            continue
        if tuple(names) == (DEFECT_OUTPUT,):
            out[i] = 0
        elif item.defect_class in names:
            out[i] = list(names).index(item.defect_class)
        else:
            msg = (
                f"{item.path} is of class {item.defect_class!r}, which the training images "
                f"lack ({', '.join(names)}): add training images of it or remove the folder"
            )
            raise SourceError(msg)
    return out


def check_masks(items: Sequence[LabelledImage], folder: Path) -> None:
    """Refuse defective images without a mask, naming them.

    Raises:
        SourceError: some defective images have no ``<stem>.png`` / ``<stem>_mask.png``.
    """
    missing = [item.path.name for item in items if item.defective and item.mask_path is None]
    if missing:
        shown = ", ".join(missing[:10]) + (f" (and {len(missing) - 10} more)" * (len(missing) > 10))
        msg = (
            f"{len(missing)} defective image(s) in {folder} have no mask: {shown}. A segmenter "
            "learns where defects are from masks: add <stem>.png masks (255 = defect), import "
            "boxes with `inspector dataset import --format voc`, or move the images out"
        )
        raise SourceError(msg)


def split_items(
    data_dir: Path, val_dir: Path | None, val_fraction: float, seed: int
) -> tuple[list[LabelledImage], list[LabelledImage], str]:
    """Training and validation images (defective ones with masks) and the validation source.

    Raises:
        SourceError: a folder is missing or badly laid out, or defective images lack masks.
    """
    for folder in (data_dir, val_dir):
        if folder is not None:
            refuse_voc_folder(folder)
    items = list_class_images(data_dir)
    check_masks(items, data_dir)
    if val_dir is None:
        train, val = stratified_split(items, val_fraction, seed)
        return train, val, f"{val_fraction:.0%} of each class (seed {seed})"
    val = list_class_images(val_dir)
    check_masks(val, val_dir)
    return items, val, f"folder {val_dir}"


def refuse_voc_folder(folder: Path) -> None:
    """Refuse a Pascal VOC folder given where an imported one is expected, saying what to run.

    Raises:
        SourceError: ``folder`` holds an annotations folder with ``.xml`` files.
    """
    if not folder.is_dir():
        return  # the listing names a missing folder
    for sub in folder.iterdir():
        if sub.is_dir() and sub.name.lower() in ANNOTATION_FOLDERS and any(sub.glob("*.xml")):
            msg = (
                f"{folder} is a Pascal VOC folder ({sub.name}/*.xml): import it first with "
                f"`inspector dataset import --format voc {folder} --out DIR` (boxes become "
                "masks, images go to class folders), then train on DIR"
            )
            raise SourceError(msg)


def read_mask(item: LabelledImage, shape: tuple[int, int]) -> np.ndarray:
    """The ``uint8`` mask of ``item`` at the image's ``(height, width)``; zeros without one.

    Raises:
        SourceError: the mask cannot be decoded or its size differs from the image's.
    """
    if item.mask_path is None:
        return np.zeros(shape, np.uint8)
    data = np.fromfile(item.mask_path, dtype=np.uint8)
    mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if mask is None:
        msg = f"mask {item.mask_path} cannot be decoded: replace it with a PNG (255 = defect)"
        raise SourceError(msg)
    if mask.shape != shape:
        msg = (
            f"mask {item.mask_path} is {mask.shape[1]}x{mask.shape[0]}, its image "
            f"{shape[1]}x{shape[0]}: a mask must have its image's size"
        )
        raise SourceError(msg)
    return mask


def load_images_and_masks(
    items: Sequence[LabelledImage], size: int, progress: Callable[[int, int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every image and mask, resized to ``size`` square as ``preprocess`` resizes.

    Returns:
        ``uint8`` images ``(N, size, size, 3)`` and soft masks ``(N, size, size)``.

    Raises:
        SourceError: images or masks cannot be read or do not match; all of
            them are named, after the whole set was read.
    """
    images = np.empty((len(items), size, size, 3), np.uint8)
    masks = np.empty((len(items), size, size), np.uint8)
    problems = []
    for i, item in enumerate(items):
        try:
            image = read_image(item.path)
            mask = read_mask(item, image.shape[:2])
        except SourceError as exc:
            problems.append(str(exc))
            continue
        images[i] = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        masks[i] = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
        if progress is not None:
            progress(i + 1, len(items))
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        shown = "; ".join(problems[:10])
        msg = f"{len(problems)} image(s) or mask(s) cannot be used: {shown}{more}"
        raise SourceError(msg)
    return images, masks
