"""What can be wrong with a labelled dataset, found on the way in and reported, never skipped.

Every check returns :class:`Problem` values instead of raising, so one import
lists everything that is wrong with a source at once. An ``error`` makes its
sample unusable and excludes it (``--strict`` fails the import instead); a
``warning`` is about the dataset as a whole (imbalance, tiny classes, renamed
classes) and changes nothing that is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from inspector.training.dataset_layout import GOOD_CLASS

IMBALANCE_RATIO = 10.0
"""Warn when the largest class has more than this many times the images of the smallest."""
MIN_CLASS_IMAGES = 10
"""Warn for classes with fewer images than this: too few to learn or to measure."""
SOFT_EDGE_MAX = 0.10
"""Most pixels of a mask that may be grey (soft edges); magnetic-tile's masks reach 2.6 %."""


class Severity(StrEnum):
    """Whether a problem excludes a sample (``error``) or only informs (``warning``)."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset, worded for the person who has to fix it.

    Attributes:
        kind: Stable machine name, e.g. ``unreadable_image`` or ``duplicate``.
        severity: ``error`` excludes the sample; ``warning`` does not.
        item: The sample or file it is about, relative to the source ("" for
            the dataset as a whole).
        message: What is wrong and what to do about it.
    """

    kind: str
    severity: Severity
    item: str
    message: str

    def to_json(self) -> dict[str, str]:
        """Plain dict for the manifest and machine-readable reports."""
        return {
            "kind": self.kind,
            "severity": self.severity.value,
            "item": self.item,
            "message": self.message,
        }


def error(kind: str, item: str, message: str) -> Problem:
    """A problem that excludes its sample."""
    return Problem(kind, Severity.ERROR, item, message)


def warning(kind: str, item: str, message: str) -> Problem:
    """A problem that informs but excludes nothing."""
    return Problem(kind, Severity.WARNING, item, message)


@dataclass(frozen=True)
class DatasetReport:
    """Everything an import or a check found.

    Attributes:
        source: What was read, for people (a folder, a database URL).
        format: ``folder``, ``voc``, ``db`` or ``canonical`` (a check).
        found: Samples seen per class, before any was excluded.
        classes: Usable images per class, in class order.
        masks: Usable images with a mask, per class.
        problems: Errors and warnings, in the order found.
        excluded: Samples left out because of an error.
    """

    source: str
    format: str
    found: Mapping[str, int]
    classes: Mapping[str, int]
    masks: Mapping[str, int]
    problems: tuple[Problem, ...]
    excluded: int

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems that excluded samples (and fail a strict import)."""
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """The problems that only inform."""
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    @property
    def kept(self) -> int:
        """Usable images in all classes."""
        return sum(self.classes.values())

    def to_json(self) -> dict[str, object]:
        """The report as stored in ``dataset.json`` under ``import_report``."""
        return {
            "source": self.source,
            "format": self.format,
            "found": dict(self.found),
            "classes": dict(self.classes),
            "masks": dict(self.masks),
            "kept": self.kept,
            "excluded": self.excluded,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.to_json() for p in self.problems],
        }


def decode_image(data: bytes, item: str) -> tuple[np.ndarray | None, Problem | None]:
    """Decode image bytes as the line would (BGR ``uint8``), or say why not.

    OpenCV refuses truncated JPEG and PNG files (the test suite holds it to
    that), so a half-copied file is caught here rather than in training.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if buffer.size else None
    if image is None:
        return None, error(
            "unreadable_image",
            item,
            "cannot decode the image: the file is empty, truncated or not an image; "
            "copy it again from the original or remove it",
        )
    return image, None


def looks_binary(image: np.ndarray) -> bool:
    """Grey (all channels equal) with only the values 0 and 255: a mask, not a photograph."""
    plane = _grey_plane(image)
    return plane is not None and bool(np.isin(plane, (0, 255)).all())


def check_mask(
    data: bytes, item: str, name: str, image_shape: tuple[int, int], good: bool
) -> tuple[np.ndarray | None, list[Problem]]:
    """Decode a mask and bring it to the layout: one grey ``uint8`` plane of 0 and 255.

    Real masks are not always crisp: those of the magnetic-tile set have soft
    edges (grey values on up to 2.6 % of the pixels, from resampling). Such a
    mask is thresholded at 128, as ``inspector evaluate`` reads masks, and the
    change is reported as a warning. A mask with more grey than
    ``SOFT_EDGE_MAX`` of its pixels, a colour mask, or one whose values stay
    below 128 (a 0/1 or class-index mask, which a threshold would silently
    empty) is refused.

    Args:
        data: The mask file's bytes.
        item: The sample the mask belongs to (excluded when the mask is bad).
        name: The mask's file name, for the message.
        image_shape: ``(height, width)`` of its image.
        good: Whether the image is in the defect-free class (its mask must be empty).

    Returns:
        The mask as a ``uint8`` ``(H, W)`` array of 0/255 (``None`` when
        refused), and the problems: an error when refused, else maybe a warning.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    mask = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if mask is None:
        return None, [
            error("unreadable_mask", item, f"cannot decode mask {name}: re-export it or remove it")
        ]
    if mask.shape[:2] != image_shape:
        return None, [
            error(
                "mask_size",
                item,
                f"mask {name} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                f"{image_shape[1]}x{image_shape[0]} (width x height): export the mask at the "
                "image's size",
            )
        ]
    plane = _grey_plane(mask)
    soft = 0 if plane is None else int(np.count_nonzero((plane > 0) & (plane < 255)))
    if plane is None or mask.dtype != np.uint8 or soft > SOFT_EDGE_MAX * plane.size:
        return None, [_not_binary(item, name, mask)]
    if plane.any() and plane.max() < 128:
        return None, [
            error(
                "mask_not_binary",
                item,
                f"mask {name} has values only up to {plane.max()} (a 0/1 or class-index "
                "mask?): the layout marks defects with 255; scale it to 0/255",
            )
        ]
    problems = []
    if soft:
        plane = np.where(plane > 127, 255, 0).astype(np.uint8)
        problems.append(
            warning(
                "mask_binarised",
                item,
                "mask has soft edges (grey values between 0 and 255): written as 0/255 with "
                "the threshold 128 that evaluation uses",
            )
        )
    if good and plane.any():
        return None, [
            error(
                "mask_on_good",
                item,
                f"mask {name} marks a defect on an image in '{GOOD_CLASS}': move it to its "
                "defect's class or clear the mask",
            )
        ]
    return np.ascontiguousarray(plane), problems


def _grey_plane(image: np.ndarray) -> np.ndarray | None:
    """The single plane of a grey image (colour channels equal, alpha ignored); else ``None``."""
    if image.ndim == 2:
        return image
    first = image[..., 0]
    if all(np.array_equal(first, image[..., c]) for c in range(1, min(image.shape[2], 3))):
        return first
    return None


def _not_binary(item: str, name: str, mask: np.ndarray) -> Problem:
    values = np.unique(mask)
    shown = ", ".join(str(v) for v in values[:6]) + (", ..." if values.size > 6 else "")
    return error(
        "mask_not_binary",
        item,
        f"mask {name} must be 8-bit grey with 0 (no defect) and 255 (defect) and few soft-edge "
        f"values, found {mask.dtype} {'grey' if mask.ndim == 2 else 'colour'} values {shown}: "
        "threshold it to 0/255 and save it as PNG",
    )


def check_boxes(
    boxes: Sequence[tuple[float, float, float, float]], image_shape: tuple[int, int], item: str
) -> list[Problem]:
    """Boxes ``(x, y, w, h)`` must be non-empty and lie within the image."""
    height, width = image_shape
    problems = []
    for x, y, w, h in boxes:
        shown = f"[x={_num(x)}, y={_num(y)}, w={_num(w)}, h={_num(h)}]"
        if w <= 0 or h <= 0:
            problems.append(
                error("empty_box", item, f"box {shown} has no area: fix or delete the box")
            )
        elif x < 0 or y < 0 or x + w > width or y + h > height:
            problems.append(
                error(
                    "box_outside_image",
                    item,
                    f"box {shown} reaches outside the {width}x{height} image: fix the box "
                    "(coordinates are pixels, xmax <= width, ymax <= height)",
                )
            )
    return problems


def rasterise_boxes(
    boxes: Iterable[tuple[float, float, float, float]], image_shape: tuple[int, int]
) -> np.ndarray:
    """Filled boxes as a 0/255 mask: every pixel a box touches counts as defect."""
    mask = np.zeros(image_shape, dtype=np.uint8)
    for x, y, w, h in boxes:
        left, top = int(np.floor(x)), int(np.floor(y))
        right, bottom = int(np.ceil(x + w)) - 1, int(np.ceil(y + h)) - 1
        cv2.rectangle(mask, (left, top), (right, bottom), 255, thickness=-1)
    return mask


def duplicate_problems(images: Sequence[tuple[str, str, str]]) -> list[Problem]:
    """Errors for identical files, given ``(item, class, sha256)`` in the order to keep them.

    Copies within one class are duplicates: the first is kept. Copies in
    several classes are conflicting labels: none is kept, since nobody can
    tell from the files which label is right.
    """
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for item, label, digest in images:
        groups[digest].append((item, label))
    problems = []
    for group in groups.values():
        labels = sorted({label for _, label in group})
        if len(labels) > 1:
            copies = ", ".join(item for item, _ in group)
            problems += [
                error(
                    "conflicting_labels",
                    item,
                    f"the same image is labelled {' and '.join(labels)} ({copies}): "
                    "keep the copy with the right class and delete the others",
                )
                for item, _ in group
            ]
        else:
            problems += [
                error("duplicate", item, f"same bytes as {group[0][0]} (kept): delete the copy")
                for item, _ in group[1:]
            ]
    return problems


def class_warnings(counts: Mapping[str, int], allowed: Sequence[str] | None) -> list[Problem]:
    """Warnings about the classes kept: tiny, imbalanced, ``good`` or listed ones missing."""
    counts = dict(sorted(counts.items()))
    problems = [
        warning(
            "small_class",
            name,
            f"class '{name}' has only {count} image(s) (fewer than {MIN_CLASS_IMAGES}): "
            "collect more, or merge it into a related class",
        )
        for name, count in counts.items()
        if 0 < count < MIN_CLASS_IMAGES
    ]
    present = {name: count for name, count in counts.items() if count > 0}
    if len(present) >= 2:
        largest = max(present, key=present.__getitem__)
        smallest = min(present, key=present.__getitem__)
        ratio = present[largest] / present[smallest]
        if ratio > IMBALANCE_RATIO:
            problems.append(
                warning(
                    "class_imbalance",
                    "",
                    f"class '{largest}' has {present[largest]} images, {ratio:.0f}x the "
                    f"{present[smallest]} of '{smallest}' (more than {IMBALANCE_RATIO:.0f}x): "
                    "collect more of the small classes, or train with class weights",
                )
            )
    if GOOD_CLASS not in present:
        problems.append(
            warning(
                "no_good_class",
                "",
                f"no usable images in '{GOOD_CLASS}': anomaly fitting and 'inspector evaluate' "
                "need defect-free parts there",
            )
        )
    problems += [
        warning("missing_class", name, f"class '{name}' is in --classes but has no usable images")
        for name in allowed or ()
        if name != GOOD_CLASS and name not in present
    ]
    return problems


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
