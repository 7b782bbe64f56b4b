"""``inspector dataset import`` / ``check``: labelled data in, validated, in one layout.

Three source formats become the canonical layout of
:mod:`inspector.training.dataset_layout` (the one ``inspector evaluate``
reads and the review export writes): folder-per-class with optional masks,
Pascal VOC boxes, and the reviewed inspections of the project's database.
Every format goes through the same checks, in two passes:

1. the bytes of every image are hashed: identical files in one class are
   duplicates (the first is kept), in several classes conflicting labels
   (none is kept, since nobody can tell which label is right);
2. each remaining image is decoded, its mask or boxes are checked against
   its pixels, and it is written.

A sample with an error is excluded and the error listed (in the returned
report and in ``dataset.json``); with ``strict`` any error fails the import
and nothing is written. Boxes are kept in the manifest and also drawn, filled,
into the mask, so classification and segmentation trainers can use either.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

import numpy as np

from inspector.training.dataset_checks import (
    DatasetReport,
    Problem,
    check_boxes,
    check_mask,
    class_warnings,
    decode_image,
    duplicate_problems,
    error,
    looks_binary,
    rasterise_boxes,
)
from inspector.training.dataset_layout import (
    CLASS_NAME,
    GOOD_CLASS,
    MASK_EXTENSION,
    safe_class_name,
)
from inspector.training.dataset_manifest import (
    DatasetWriter,
    check_output,
    commit,
    new_staging,
    sha256,
    verify_manifest,
    write_manifest,
)
from inspector.training.dataset_names import resolve_class_names
from inspector.training.dataset_sources import (
    SourceSample,
    SourceScan,
    database_path,
    scan_database,
    scan_folder,
)
from inspector.training.voc import scan_voc

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""


class DatasetFormat(StrEnum):
    """Source formats ``inspector dataset import`` reads."""

    FOLDER = "folder"
    VOC = "voc"
    DB = "db"


@dataclass(frozen=True)
class ImportResult:
    """What an import did: its report, and the dataset folder (``None``: nothing written)."""

    report: DatasetReport
    out_dir: Path | None


def parse_classes(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """The ``--classes`` list (``"a,b,c"`` or a sequence), checked; ``None`` when not given.

    Raises:
        ValueError: a name is not a portable class name.
    """
    if text is None:
        return None
    names = text.split(",") if isinstance(text, str) else list(text)
    cleaned = [name.strip() for name in names if name.strip()]
    bad = [name for name in cleaned if not CLASS_NAME.fullmatch(name)]
    if bad or not cleaned:
        msg = (
            f"--classes must list class names of letters, digits, '_' or '-' separated by "
            f"commas (e.g. good,crack,dent); cannot use {', '.join(map(repr, bad)) or 'nothing'}"
        )
        raise ValueError(msg)
    return tuple(dict.fromkeys(cleaned))


def import_dataset(
    source: str | Path,
    out: str | Path,
    *,
    fmt: DatasetFormat | str,
    classes: Sequence[str] | None = None,
    strict: bool = False,
    force: bool = False,
    images: Path | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a labelled dataset into ``out`` in the canonical layout, validating every sample.

    Args:
        source: Folder (``folder``, ``voc``) or database path / URL (``db``).
        out: Dataset folder to create.
        fmt: One of :class:`DatasetFormat`.
        classes: The only classes allowed (``good`` always is); others are errors.
        strict: Fail on any error instead of excluding samples; nothing is written.
            Warnings (imbalance, small classes, soft mask edges) never fail.
        force: Replace ``out`` if it holds an earlier import.
        images: Image store root for ``db`` (default: ``images/`` beside the database).
        progress: Progress callback for long imports.

    Raises:
        ValueError: bad arguments, or ``out`` cannot be written (the message says why).
        SourceError: the source cannot be read at all.
        StorageError: the database cannot be opened.
    """
    fmt = _format(fmt)
    out = Path(out).absolute()
    check_output(out, force=force, sources=_source_paths(source, fmt, images))
    staging = new_staging(out)
    try:
        with tempfile.TemporaryDirectory(prefix=f"{out.name}.source-", dir=out.parent) as work:
            scan = _scan(source, fmt, images, Path(work))
            problems, entries, _ = _validate(scan, classes, DatasetWriter(staging), progress)
        report = _report(scan, fmt.value, problems, entries)
        if strict and report.errors:
            _discard(staging)
            return ImportResult(report, None)
        write_manifest(staging, report, entries)
        check_output(out, force=force, sources=())  # nobody wrote there meanwhile
        commit(staging, out)
    except BaseException:
        _discard(staging)
        raise
    return ImportResult(report, out)


def check_dataset(
    folder: str | Path,
    *,
    classes: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> DatasetReport:
    """Run the import checks on a canonical folder, and compare it with its ``dataset.json``.

    Raises:
        SourceError: ``folder`` is not a folder.
    """
    root = Path(folder)
    scan = scan_folder(root)
    problems, entries, hashes = _validate(scan, classes, None, progress)
    problems += verify_manifest(root, hashes, (str(e["path"]) for e in entries))
    return _report(scan, "canonical", problems, entries)


def _format(fmt: DatasetFormat | str) -> DatasetFormat:
    try:
        return DatasetFormat(fmt)
    except ValueError:
        msg = f"unknown dataset format {fmt!r}: use one of {', '.join(DatasetFormat)}"
        raise ValueError(msg) from None


def _source_paths(source: str | Path, fmt: DatasetFormat, images: Path | None) -> list[Path]:
    if fmt is not DatasetFormat.DB:
        return [Path(source)]
    database = database_path(source)
    return [path for path in (database, images) if path is not None]


def _scan(source: str | Path, fmt: DatasetFormat, images: Path | None, work: Path) -> SourceScan:
    if fmt is DatasetFormat.FOLDER:
        return scan_folder(source)
    if fmt is DatasetFormat.VOC:
        return scan_voc(source)
    return scan_database(source, images, work)


def _validate(
    scan: SourceScan,
    classes: Sequence[str] | None,
    writer: DatasetWriter | None,
    progress: Progress | None,
) -> tuple[list[Problem], list[dict[str, object]], dict[str, str]]:
    """Both passes over the samples; returns problems, manifest entries and image hashes."""
    problems = list(scan.problems)
    allowed = None if classes is None else parse_classes(classes)
    names, name_problems = resolve_class_names(scan.samples, allowed)
    problems += name_problems
    samples = sorted(
        (s for s in scan.samples if s.item in names), key=lambda s: (names[s.item], s.item)
    )
    hashes = _hash_all(samples, problems, progress)
    duplicates = duplicate_problems(
        [(s.item, names[s.item], hashes[s.item]) for s in samples if s.item in hashes]
    )
    problems += duplicates
    dropped = {p.item for p in duplicates}
    keep = [s for s in samples if s.item in hashes and s.item not in dropped]
    with_masks = any(s.mask is not None or s.boxes for s in samples)
    entries = []
    for done, sample in enumerate(keep, start=1):
        entry, found = _check_one(
            sample, names[sample.item], hashes[sample.item], with_masks, writer
        )
        problems += found
        if entry is not None:
            entries.append(entry)
        if progress is not None:
            progress("check" if writer is None else "import", done, len(keep))
    problems += class_warnings(Counter(str(e["class"]) for e in entries), allowed)
    return problems, entries, hashes


def _hash_all(
    samples: Sequence[SourceSample], problems: list[Problem], progress: Progress | None
) -> dict[str, str]:
    hashes = {}
    for done, sample in enumerate(samples, start=1):
        try:
            hashes[sample.item] = sha256(sample.image.read_bytes())
        except OSError as exc:
            problems.append(
                error(
                    "unreadable_image",
                    sample.item,
                    f"cannot read the file ({exc.strerror or exc}): check its permissions",
                )
            )
        if progress is not None:
            progress("hash", done, len(samples))
    return hashes


def _check_one(
    sample: SourceSample,
    label: str,
    digest: str,
    dataset_has_masks: bool,
    writer: DatasetWriter | None,
) -> tuple[dict[str, object] | None, list[Problem]]:
    """Decode one sample, check its mask or boxes, write it.

    Returns:
        Its manifest entry (``None`` when excluded) and its problems.
    """
    try:
        data = sample.image.read_bytes()
        mask_data = None if sample.mask is None else sample.mask.read_bytes()
    except OSError as exc:
        return None, [error("unreadable_image", sample.item, f"cannot read {exc.filename}: {exc}")]
    if sha256(data) != digest:
        return None, [
            error("changed_during_import", sample.item, "the file changed while importing")
        ]
    image, problem = decode_image(data, sample.item)
    if problem is not None or image is None:
        return None, [problem] if problem else []
    shape = (int(image.shape[0]), int(image.shape[1]))
    problems = _shape_problems(sample, shape, dataset_has_masks, image)
    boxes = [b.bbox for b in sample.boxes]
    problems += check_boxes(boxes, shape, sample.item)
    if problems:
        return None, problems
    mask, mask_source, notes = None, None, []
    if sample.mask is not None and mask_data is not None:
        good = label == GOOD_CLASS
        mask, notes = check_mask(mask_data, sample.item, sample.mask.name, shape, good)
        if mask is None:
            return None, notes
        mask_source = "file"
    elif boxes and label != GOOD_CLASS:
        mask, mask_source = rasterise_boxes(boxes, shape), "boxes"
    if writer is not None:
        path, mask_path, mask_sha = writer.add(
            label, sample.image.stem, sample.image.suffix, data, mask
        )
    else:  # a check reads the dataset in place
        path = sample.item
        mask_path = None if sample.mask is None else _beside(sample.item, sample.mask.name)
        mask_sha = None if mask_data is None else sha256(mask_data)
    entry: dict[str, object] = {
        "path": path,
        "class": label,
        "sha256": digest,
        "width": shape[1],
        "height": shape[0],
        "mask": mask_path,
        "mask_sha256": mask_sha,
        "mask_source": mask_source,
        "boxes": [
            {"class": safe_class_name(b.defect_class), "bbox": [_number(v) for v in b.bbox]}
            for b in sample.boxes
        ],
        "source": sample.item,
        "origin": dict(sample.origin),
    }
    return entry, notes


def _shape_problems(
    sample: SourceSample, shape: tuple[int, int], dataset_has_masks: bool, image: np.ndarray
) -> list[Problem]:
    if sample.declared_size is not None and sample.declared_size != shape:
        (dh, dw), (h, w) = sample.declared_size, shape
        return [
            error(
                "size_mismatch",
                sample.item,
                f"the annotation says {dw}x{dh} but the image is {w}x{h}: the annotation was "
                "made for another image; fix <size> and the boxes, or the image",
            )
        ]
    if (
        dataset_has_masks
        and sample.mask is None
        and sample.image.suffix.lower() == MASK_EXTENSION
        and looks_binary(image)
    ):
        return [
            error(
                "orphan_mask",
                sample.item,
                "black-and-white like a mask, and no image of its stem is beside it: "
                "add the image it belongs to, or remove it",
            )
        ]
    return []


def _beside(item: str, name: str) -> str:
    return (PurePosixPath(item).parent / name).as_posix()


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _report(
    scan: SourceScan,
    fmt: str,
    problems: Iterable[Problem],
    entries: Sequence[Mapping[str, object]],
) -> DatasetReport:
    problems = tuple(problems)
    classes = Counter(str(e["class"]) for e in entries)
    masks = Counter(str(e["class"]) for e in entries if e["mask"] is not None or e["boxes"])
    excluded = {p.item for p in problems if p.severity.value == "error" and p.item}
    return DatasetReport(
        source=scan.description,
        format=fmt,
        found=dict(sorted(Counter(s.label for s in scan.samples).items())),
        classes=dict(sorted(classes.items())),
        masks=dict(sorted(masks.items())),
        problems=problems,
        excluded=len(excluded),
    )


def _discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
