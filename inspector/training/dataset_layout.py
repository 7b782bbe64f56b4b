"""The canonical labelled-dataset layout: where images, masks and the manifest live.

One folder per class, ``good`` holding the defect-free parts::

    OUT/<class>/<stem>.jpg        an image (any extension of IMAGE_EXTENSIONS)
    OUT/<class>/<stem>.png        its mask, when the image is not a PNG
    OUT/<class>/<stem>_mask.png   its mask, when the image is itself a PNG
    OUT/dataset.json              manifest written by ``inspector dataset import``

A mask is ``uint8``, 255 where the defect is, 0 elsewhere, the image's size.
``<stem>.png`` beside ``<stem>.jpg`` is the layout of the magnetic-tile set
and of :func:`inspector.storage.review_export.export_reviewed_dataset`; a PNG image
cannot share its stem with its mask, hence ``_mask`` for those (MVTec AD's
suffix). Evaluation, fitting, prediction and import all split files into
images and masks with :func:`split_masks`, so they never disagree about
which file is which.

This module is free of torch on purpose: importing a dataset must not pay
for the model stack.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

GOOD_CLASS = "good"
MASK_EXTENSION = ".png"
PNG_MASK_SUFFIX = "_mask"
MANIFEST_NAME = "dataset.json"
CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""Class names become folder names: portable characters only (as reviews require)."""

_UNSAFE_CLASS_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_UNSAFE_STEM_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 100


def mask_path_for(image: Path) -> Path:
    """Where the layout keeps the mask of ``image``: ``<stem>.png``, or ``<stem>_mask.png``."""
    if image.suffix.lower() == MASK_EXTENSION:
        return image.with_name(f"{image.stem}{PNG_MASK_SUFFIX}{MASK_EXTENSION}")
    return image.with_suffix(MASK_EXTENSION)


def split_masks(files: Sequence[Path]) -> tuple[list[Path], dict[Path, Path]]:
    """Tell the images from the masks among ``files``.

    Non-PNG images claim their masks first (a ``<stem>.png`` beside
    ``<stem>.jpg`` is a mask, never an image), then the remaining PNG images
    claim ``<stem>_mask.png``. Names are compared case-insensitively, as the
    masks of ``X.JPG`` may well be ``X.png``.

    Returns:
        The images, in the order given, and ``{image: mask}`` for those with a mask.
    """
    by_key = {_key(f): f for f in files}
    masks: dict[Path, Path] = {}
    claimed: set[tuple[Path, str]] = set()
    non_png = [f for f in files if f.suffix.lower() != MASK_EXTENSION]
    png = sorted((f for f in files if f.suffix.lower() == MASK_EXTENSION), key=_png_order)
    for image in [*non_png, *png]:
        if _key(image) in claimed:
            continue
        mask = by_key.get(_key(mask_path_for(image)))
        if mask is not None and mask != image and _key(mask) not in claimed:
            masks[image] = mask
            claimed.add(_key(mask))
    return [f for f in files if _key(f) not in claimed], masks


def looks_like_orphan_mask(file: Path) -> bool:
    """A ``<stem>_mask.png`` is named as a mask; without its image it must not pass for one."""
    return file.suffix.lower() == MASK_EXTENSION and file.stem.lower().endswith(PNG_MASK_SUFFIX)


def safe_class_name(name: str) -> str:
    """``name`` reduced to portable folder-name characters; ``""`` when nothing is left.

    Accents are dropped (``Öl`` becomes ``Ol``) and runs of other characters
    (spaces, separators, dots) become one ``_``, so ``"scratch mark"`` becomes
    ``scratch_mark`` and ``"../x"`` becomes ``x``: no class can name a folder
    outside the dataset.
    """
    cleaned = _UNSAFE_CLASS_CHARS.sub("_", _ascii(name).strip()).strip("_-")
    return cleaned[:64]


def safe_stem(stem: str) -> str:
    """A file stem with no separators, no leading dot and no ``..`` left in it."""
    cleaned = _UNSAFE_STEM_CHARS.sub("_", _ascii(stem)).replace("..", "_").strip("._-")
    return cleaned[:_MAX_STEM] or "image"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _key(path: Path) -> tuple[Path, str]:
    return path.parent, path.name.lower()


def _png_order(path: Path) -> tuple[int, str]:
    # Shorter names first: ``a.png`` claims ``a_mask.png`` before the latter is considered.
    return len(path.name), path.name.lower()
