"""Reading labelled samples out of the formats users already have, before any validation.

A reader lists what a source claims (this image, this class, this mask,
these boxes) as :class:`SourceSample` values plus the problems it could see
without decoding pixels (a file with no class, a mask without its image).
Decoding, hashing and the other checks happen once, for every format, in
:mod:`inspector.training.dataset_import`.

Readers here: folder-per-class (which is also the canonical layout, so
``inspector dataset check`` uses it) and the project's own database of
reviewed inspections. Pascal VOC lives in :mod:`inspector.training.voc`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url

from inspector.acquisition.image_files import IMAGE_EXTENSIONS
from inspector.core.errors import SourceError
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.review_export import export_reviewed_dataset
from inspector.training.dataset_checks import Problem, error, warning
from inspector.training.dataset_layout import (
    MANIFEST_NAME,
    MASK_EXTENSION,
    PNG_MASK_SUFFIX,
    looks_like_orphan_mask,
    split_masks,
)


@dataclass(frozen=True)
class Box:
    """A labelled rectangle: ``bbox`` is ``(x, y, w, h)`` in image pixels."""

    defect_class: str
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class SourceSample:
    """One image as a source describes it, not yet checked.

    Attributes:
        item: Its name in the source, relative (``crack/a.jpg``), used in every message.
        image: The image file.
        label: Its class as the source spells it (made safe later).
        mask: Its mask file, if the source has one.
        boxes: Labelled boxes (VOC, reviews); classes as the source spells them.
        declared_size: ``(height, width)`` the annotation claims, checked against the pixels.
        origin: Provenance kept in the manifest (annotation file, inspection and review ids).
    """

    item: str
    image: Path
    label: str
    mask: Path | None = None
    boxes: tuple[Box, ...] = ()
    declared_size: tuple[int, int] | None = None
    origin: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceScan:
    """What a reader found: the samples, the problems already visible, and what was read."""

    samples: tuple[SourceSample, ...]
    problems: tuple[Problem, ...]
    description: str


def scan_folder(root: str | Path) -> SourceScan:
    """Read a ``<class>/<image>`` folder with optional masks (see ``dataset_layout``).

    Every file is accounted for: images become samples, masks attach to their
    images, and anything else (files outside class folders, sub-folders,
    non-image files, masks without an image) is reported.

    Raises:
        SourceError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        msg = f"dataset folder {root} does not exist or is not a folder: check the path"
        raise SourceError(msg)
    samples: list[SourceSample] = []
    problems: list[Problem] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir():
            _scan_class(root, entry, samples, problems)
        elif entry.name != MANIFEST_NAME:
            problems.append(_outside_class(entry.name, entry))
    return SourceScan(tuple(samples), tuple(problems), f"folder {root}")


def _scan_class(
    root: Path, folder: Path, samples: list[SourceSample], problems: list[Problem]
) -> None:
    files: list[Path] = []
    for entry in sorted(folder.iterdir()):
        relative = entry.relative_to(root).as_posix()
        if entry.is_dir():
            problems.append(
                warning(
                    "ignored_folder",
                    relative,
                    "sub-folders of a class folder are not read: move its images up into "
                    "the class folder, or make it a class of its own",
                )
            )
        elif entry.suffix.lower() in IMAGE_EXTENSIONS:
            files.append(entry)
        else:
            problems.append(
                warning(
                    "ignored_file",
                    relative,
                    f"not an image (extensions read: {', '.join(sorted(IMAGE_EXTENSIONS))}); "
                    "it is not imported",
                )
            )
    images, masks = split_masks(files)
    for image in images:
        relative = image.relative_to(root).as_posix()
        if looks_like_orphan_mask(image):
            image_name = image.stem[: -len(PNG_MASK_SUFFIX)] + MASK_EXTENSION
            problems.append(
                error(
                    "orphan_mask",
                    relative,
                    f"named as a mask but there is no image {image_name} beside it (the mask "
                    "of a .jpg image is <stem>.png): add the image, rename the mask, or remove it",
                )
            )
        else:
            samples.append(SourceSample(relative, image, folder.name, mask=masks.get(image)))


def _outside_class(name: str, entry: Path) -> Problem:
    if entry.suffix.lower() in IMAGE_EXTENSIONS:
        return error(
            "no_class",
            name,
            "image outside any class folder, so its class is unknown: move it into "
            "<class>/ (good/ for defect-free parts)",
        )
    return warning("ignored_file", name, "file outside the class folders; it is not imported")


def scan_database(database: str | Path, images: Path | None, workdir: Path) -> SourceScan:
    """Reviewed inspections of the project's database, as labelled samples.

    The reviewed parts are exported with
    :func:`~inspector.storage.review_export.export_reviewed_dataset` (the same
    layout the QA tab writes) into ``workdir``, then read as a folder; parts
    the export could not write become problems, and each sample keeps its
    inspection and review ids, reviewer and box.

    Args:
        database: Database file or SQLAlchemy URL.
        images: Image store root; by default ``images/`` beside a database file.
        workdir: An empty scratch folder (deleted by the caller).

    Raises:
        SourceError: the database file does not exist, or the image store
            cannot be found for a database that is not a file.
        StorageError: the database cannot be opened.
    """
    database_file = database_path(database)
    if database_file is not None and not database_file.is_file():
        msg = f"database {database_file} does not exist: give the path of a station's database"
        raise SourceError(msg)
    if images is None:
        if database_file is None:
            msg = f"cannot tell where the images of {database} are: give --images DIR"
            raise SourceError(msg)
        store = ImageStore.beside(database_file)
    else:
        store = ImageStore(images)
    if not store.root.is_dir():
        msg = f"image store {store.root} does not exist: give --images DIR (the station's images/)"
        raise SourceError(msg)
    engine = open_database(database)
    try:
        export = export_reviewed_dataset(engine, store, workdir / "export")
    finally:
        engine.dispose()
    problems = [
        error("not_exported", f"inspection {part}", f"{reason}; this part is not imported")
        for part, reason in export.skipped
    ]
    with open(export.out_dir / "manifest.csv", encoding="utf-8", newline="") as file:
        rows = {row["image"]: row for row in csv.DictReader(file)}
    scan = scan_folder(export.out_dir)
    samples = [_with_review(sample, rows[sample.item]) for sample in scan.samples]
    # manifest.csv is the export's own file, read above; anything else unexpected is reported.
    problems += [p for p in scan.problems if p.item != "manifest.csv"]
    return SourceScan(tuple(samples), tuple(problems), f"database {database} (images {store.root})")


def database_path(database: str | Path) -> Path | None:
    """The file behind a database path or SQLite URL; ``None`` for other databases."""
    if isinstance(database, str) and "://" in database:
        url = make_url(database)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).expanduser()
    return Path(database).expanduser()


def _with_review(sample: SourceSample, row: Mapping[str, str]) -> SourceSample:
    kept = ("inspection_id", "review_id", "decision", "reviewer", "reviewed_at")
    kept += ("machine_verdict", "score", "station", "camera_id", "captured_at", "model_version")
    origin: dict[str, object] = {name: row[name] for name in kept}
    for name in ("inspection_id", "review_id"):
        origin[name] = int(row[name])
    boxes: tuple[Box, ...] = ()
    if row["box_x"]:
        bbox = (float(row["box_x"]), float(row["box_y"]), float(row["box_w"]), float(row["box_h"]))
        boxes = (Box(row["class"], bbox),)
    return SourceSample(
        item=f"inspection {origin['inspection_id']} ({sample.item})",
        image=sample.image,
        label=sample.label,
        mask=sample.mask,
        boxes=boxes,
        origin=origin,
    )
