"""A reviewer's correction of the defect region: brush masks in the image store, saved reviews.

The machine's defects stay as the line recorded them; a reviewer who finds
the region wrong draws a box and/or paints a mask, and that correction is
stored with the review (``reviews.box_*`` and ``reviews.mask_path``). Masks
are PNG files (lossless: a JPEG would blur the 0/255 edge into greys) in
``review-masks/YYYY-MM-DD/`` under the image store root, one new file per
review, so a second opinion never overwrites the first one's mask.

The mask is checked against the part's kept image before anything is
written: a mask of the wrong size would be refused later by dataset import,
far from the person who could fix it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
from sqlalchemy import Engine

from inspector.core.errors import StorageError
from inspector.storage.image_store import ImageStore, _write_atomically
from inspector.storage.repository import get_inspection
from inspector.storage.reviews import Review, ReviewDecision, add_review

MASK_FOLDER = "review-masks"


def check_mask(mask: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """The mask as a contiguous ``uint8`` ``(H, W)`` plane of 0 and 255, or a clear error.

    Raises:
        ValueError: not a 2-D ``uint8`` array of the image's size, values other
            than 0 and 255, or nothing marked (an empty mask says no defect).
    """
    mask = np.asarray(mask)
    if mask.dtype != np.uint8 or mask.ndim != 2:
        msg = f"a review mask is a 2-D uint8 array (0 or 255), got {mask.dtype} {mask.shape}"
        raise ValueError(msg)
    if mask.shape != tuple(image_shape):
        msg = (
            f"review mask is {mask.shape[1]}x{mask.shape[0]} but the part's image is "
            f"{image_shape[1]}x{image_shape[0]} (width x height): paint it over that image"
        )
        raise ValueError(msg)
    if not np.isin(mask, (0, 255)).all():
        msg = "a review mask holds only 0 (no defect) and 255 (defect); threshold it first"
        raise ValueError(msg)
    if not mask.any():
        msg = "the review mask marks no pixel: paint the defect, or leave the mask out"
        raise ValueError(msg)
    return np.ascontiguousarray(mask)


def box_mask(image_shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """A corrected box as a mask: 255 inside ``(x, y, w, h)`` (clipped to the image), else 0."""
    height, width = image_shape
    x, y, w, h = box
    mask = np.zeros((height, width), np.uint8)
    mask[max(0, y) : min(height, y + h), max(0, x) : min(width, x + w)] = 255
    return mask


def save_review_mask(
    store: ImageStore, mask: np.ndarray, *, inspection_id: int, reviewed_at: datetime
) -> str:
    """Write a checked mask as PNG and return its path relative to the store root.

    Named ``review-masks/<UTC day>/<inspection id>_<time>.png``; an existing
    file is never replaced (a suffix is added), so each review keeps its own.

    Raises:
        StorageError: the file cannot be written; the message names it.
    """
    when = reviewed_at.astimezone(UTC)
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(mask))
    if not ok:
        msg = f"cannot encode the review mask of inspection {inspection_id} as PNG"
        raise StorageError(msg)
    name = f"{MASK_FOLDER}/{when:%Y-%m-%d}/{inspection_id:010d}_{when:%H%M%S%f}"
    relative, suffix = f"{name}.png", 1
    target = store.path(relative)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        while target.exists():
            relative, suffix = f"{name}-{suffix}.png", suffix + 1
            target = store.path(relative)
        _write_atomically(target, buffer.tobytes())
    except OSError as exc:
        msg = (
            f"cannot save review mask {target}: {exc.strerror or exc}; "
            "free disk space or check the image folder's permissions"
        )
        raise StorageError(msg) from exc
    return relative


def load_review_mask(store: ImageStore, relative: str) -> np.ndarray:
    """Read a stored review mask back as ``uint8`` ``(H, W)``.

    Raises:
        StorageError: the file is missing or not an image.
    """
    full = store.path(relative)
    data = np.fromfile(full, dtype=np.uint8) if full.is_file() else np.zeros(0, np.uint8)
    mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if mask is None:
        msg = f"review mask {full} is missing or damaged; review the part again to redraw it"
        raise StorageError(msg)
    return mask


def add_corrected_review(
    engine: Engine,
    store: ImageStore,
    inspection_id: int,
    *,
    reviewer: str,
    decision: ReviewDecision | str,
    defect_class: str | None = None,
    box: tuple[int, int, int, int] | None = None,
    mask: np.ndarray | None = None,
    note: str | None = None,
    reviewed_at: datetime | None = None,
) -> Review:
    """Append a review with a corrected region: a box and/or a brush mask over the part's image.

    Without ``box`` and ``mask`` this is :func:`~inspector.storage.reviews.add_review`.
    The mask file is written first and removed again if the review is refused,
    so no mask is left behind that no review points to.

    Raises:
        ValueError: the part does not exist, has no kept image to correct, the
            box leaves the image, the mask is not a 0/255 plane of the image's
            size, or the review itself is inconsistent (see ``add_review``).
        StorageError: the image or the mask file cannot be read or written.
    """
    when = datetime.now(UTC) if reviewed_at is None else reviewed_at
    if when.tzinfo is None:
        msg = (
            "reviewed_at must be timezone-aware (e.g. datetime.now(UTC)); naive times are ambiguous"
        )
        raise ValueError(msg)
    mask_path = None
    if box is not None or mask is not None:
        shape = _image_shape(engine, store, inspection_id)
        if box is not None:
            _check_box_inside(box, shape)
        if mask is not None:
            checked = check_mask(mask, shape)
            mask_path = save_review_mask(
                store, checked, inspection_id=inspection_id, reviewed_at=when
            )
    try:
        return add_review(
            engine,
            inspection_id,
            reviewer=reviewer,
            decision=decision,
            defect_class=defect_class,
            box=box,
            mask_path=mask_path,
            note=note,
            reviewed_at=when,
        )
    except BaseException:
        if mask_path is not None:
            store.path(mask_path).unlink(missing_ok=True)
        raise


def _image_shape(engine: Engine, store: ImageStore, inspection_id: int) -> tuple[int, int]:
    part = get_inspection(engine, inspection_id)
    if part is None:
        msg = f"no inspection with id {inspection_id}; refresh the review queue and pick another"
        raise ValueError(msg)
    if part.image_path is None:
        msg = (
            f"inspection {inspection_id} has no kept image, so its defect region cannot be "
            "corrected; review it without a box or mask"
        )
        raise ValueError(msg)
    image = store.load(part.image_path)
    return int(image.shape[0]), int(image.shape[1])


def _check_box_inside(box: tuple[int, int, int, int], shape: tuple[int, int]) -> None:
    x, y, w, h = box
    height, width = shape
    if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
        msg = (
            f"corrected box {tuple(box)} (x, y, w, h) does not lie inside the "
            f"{width}x{height} image; draw it again over the part"
        )
        raise ValueError(msg)
