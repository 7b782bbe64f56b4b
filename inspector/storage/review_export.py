"""Reviewed parts as a labelled training set, in the layout ``inspector dataset import`` reads.

One folder per class (``good`` for parts a reviewer judged good), each part's
kept image as ``<inspection id>.jpg`` and, for a defect whose region the
reviewer corrected, its mask beside it as ``<inspection id>.png`` (the
``<stem>.png`` beside ``<stem>.jpg`` rule of
:mod:`inspector.training.dataset_layout`; the image store keeps JPEGs only, so
the ``_mask`` suffix for PNG images never applies). The mask is the
reviewer's brush mask when there is one, else the corrected box filled in;
parts confirmed without a correction have no mask, since the machine's own
regions are what a person did not check.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import Engine, select

from inspector.core.errors import StorageError
from inspector.storage.image_store import ImageStore
from inspector.storage.review_masks import box_mask, load_review_mask
from inspector.storage.reviews import (
    _CHUNK,
    _CLASS_NAME,
    _INSPECTIONS,
    _REVIEWS,
    GOOD_FOLDER,
    _latest_ids,
    part_is_good,
)


@dataclass(frozen=True, eq=False)
class DatasetExport:
    """What :func:`export_reviewed_dataset` wrote: images per class folder, and what it could not.

    ``skipped`` pairs an inspection id with the reason, e.g. an image removed by retention.
    """

    out_dir: Path
    per_class: Mapping[str, int]
    skipped: tuple[tuple[int, str], ...]


# manifest.csv: where each exported file came from, for training and for audits.
_MANIFEST_FIELDS = (
    *("image", "mask", "class", "inspection_id", "review_id", "decision", "reviewer"),
    *("reviewed_at", "machine_verdict", "score", "box_x", "box_y", "box_w", "box_h"),
    *("mask_from", "station", "camera_id", "captured_at", "model_version"),
)


def export_reviewed_dataset(
    engine: Engine, image_store: ImageStore, out_dir: Path
) -> DatasetExport:
    """Write every reviewed part with a kept image as a folder-per-class training set.

    Layout, as training imports it: ``good/<id>.jpg`` for parts judged good,
    ``<class>/<id>.jpg`` for defects (with ``<class>/<id>.png`` when the
    reviewer corrected the region: the brush mask, else the box filled in),
    and ``manifest.csv`` tracing each file back to its inspection and review
    (``mask_from`` says ``mask`` or ``box``). The export is built in a hidden sibling folder and
    renamed into place at the end, so training never sees half an export;
    nothing is written outside ``out_dir``.

    Raises:
        ValueError: ``out_dir`` exists and is not an empty folder (an export
            into an old one would mix stale labels with new ones).
    """
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        msg = f"export folder {out_dir} exists and is not empty; choose a new or empty folder"
        raise ValueError(msg)
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    per_class: dict[str, int] = {}
    skipped: list[tuple[int, str]] = []
    try:
        with open(staging / "manifest.csv", "w", newline="", encoding="utf-8") as manifest_file:
            manifest = csv.DictWriter(manifest_file, fieldnames=_MANIFEST_FIELDS)
            manifest.writeheader()
            for row in _reviewed_parts(engine):
                reason = _export_one(row, image_store, staging, manifest, per_class)
                if reason is not None:
                    skipped.append((row["inspection_id"], reason))
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    per_class = dict(sorted(per_class.items()))
    return DatasetExport(out_dir=out_dir, per_class=per_class, skipped=tuple(skipped))


def _export_one(
    row: Mapping[str, Any],
    image_store: ImageStore,
    staging: Path,
    manifest: csv.DictWriter[str],
    per_class: dict[str, int],
) -> str | None:
    """Copy one part's image (and mask) into its class folder; return why not, if not."""
    if row["image_path"] is None:
        return "image not kept"
    good = part_is_good(row["verdict"], row["decision"])
    label = GOOD_FOLDER if good else row["defect_class"]
    if label is None:
        return "confirmed as a defect without a class; review it again with a class"
    if not _CLASS_NAME.fullmatch(label) or (not good and label.lower() == GOOD_FOLDER):
        return f"class {label!r} cannot be a folder name"
    try:
        source = image_store.path(row["image_path"])
    except StorageError as exc:
        return str(exc)
    stem = f"{row['inspection_id']:010d}"
    suffix = source.suffix.lower() if source.suffix.lower() in (".jpg", ".jpeg", ".bmp") else ""
    if not suffix:
        return f"image {source.name} is not a JPEG or BMP; masks would collide with it"
    mask, mask_from = None, ""
    if not good and (row["mask_path"] or row["box_x"] is not None):
        try:
            mask, mask_from = _correction_mask(row, image_store)
        except (StorageError, ValueError) as exc:
            return str(exc)
    folder = staging / label
    folder.mkdir(exist_ok=True)
    image_name = f"{stem}{suffix}"
    try:
        shutil.copyfile(source, folder / image_name)
        if mask is not None:
            _write_png(folder / f"{stem}.png", mask)
    except OSError as exc:
        (folder / image_name).unlink(missing_ok=True)
        return f"cannot copy {exc.filename}: {exc.strerror or exc}"
    per_class[label] = per_class.get(label, 0) + 1
    copied = {name: row[name] for name in _MANIFEST_FIELDS if name in row}
    copied.update(
        image=f"{label}/{image_name}",
        mask=f"{label}/{stem}.png" if mask is not None else "",
        mask_from=mask_from,
        review_id=row["id"],
        machine_verdict=row["verdict"],
        reviewed_at=row["reviewed_at"].isoformat(),
        captured_at=row["captured_at"].isoformat(),
    )
    copied["class"] = label
    manifest.writerow(copied)
    return None


def _reviewed_parts(engine: Engine) -> Iterable[Mapping[str, Any]]:
    """Latest review joined with its part, in chunks by part id (short reads, bounded memory)."""
    names = ("verdict", "score", "image_path", "station", "camera_id", "captured_at")
    columns = [_INSPECTIONS.c[name] for name in (*names, "model_version")]
    after = 0
    while True:
        latest = _latest_ids(_REVIEWS.c.inspection_id > after)
        latest = latest.order_by(_REVIEWS.c.inspection_id).limit(_CHUNK)
        statement = (
            select(_REVIEWS, *columns)
            .join(_INSPECTIONS, _INSPECTIONS.c.id == _REVIEWS.c.inspection_id)
            .where(_REVIEWS.c.id.in_(latest))
            .order_by(_REVIEWS.c.inspection_id)
        )
        with engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        yield from rows
        if len(rows) < _CHUNK:
            return
        after = rows[-1]["inspection_id"]


def _correction_mask(row: Mapping[str, Any], image_store: ImageStore) -> tuple[np.ndarray, str]:
    """The reviewer's region as a 0/255 mask of the image's size, and what it was made from.

    Raises:
        StorageError: the image or the mask file cannot be read.
        ValueError: the mask does not fit the image.
    """
    image = image_store.load(row["image_path"])
    shape = (int(image.shape[0]), int(image.shape[1]))
    if not row["mask_path"]:
        box = (row["box_x"], row["box_y"], row["box_w"], row["box_h"])
        return box_mask(shape, box), "box"
    mask = load_review_mask(image_store, row["mask_path"])
    if mask.shape != shape:
        msg = (
            f"review mask {row['mask_path']} is {mask.shape[1]}x{mask.shape[0]} but its image "
            f"is {shape[1]}x{shape[0]}; review the part again to redraw the region"
        )
        raise ValueError(msg)
    return np.where(mask > 127, 255, 0).astype(np.uint8), "mask"


def _write_png(path: Path, mask: np.ndarray) -> None:
    ok, buffer = cv2.imencode(".png", mask)
    if not ok:
        raise OSError(errno.EINVAL, "OpenCV could not encode the mask as PNG", str(path))
    path.write_bytes(buffer.tobytes())
