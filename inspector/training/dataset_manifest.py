"""Writing an imported dataset atomically, and its manifest ``dataset.json``.

The dataset is built in a sibling ``OUT.partial-*`` folder and renamed into
place at the end, so an interrupted import never leaves half a dataset under
the name training reads. ``dataset.json`` records where every file came
from, its SHA-256 and the import report, so a later ``inspector dataset
check`` can tell a dataset changed by hand from the one that was imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from inspector.training.dataset_checks import DatasetReport, Problem, error
from inspector.training.dataset_layout import MANIFEST_NAME, mask_path_for, safe_stem

FORMAT_VERSION = 1


def check_output(out: Path, *, force: bool, sources: Iterable[Path]) -> None:
    """Refuse an output that would overwrite data, or that overlaps what is read.

    ``--force`` replaces only a folder that an import wrote (it holds
    ``dataset.json``): a mistyped ``--out ~ --force`` must not delete a home folder.

    Raises:
        ValueError: the message says which folder to choose instead.
    """
    target = out.resolve()
    for source in sources:
        source = source.resolve()
        if target == source or target.is_relative_to(source) or source.is_relative_to(target):
            msg = f"--out {out} overlaps the source {source}: write the dataset somewhere else"
            raise ValueError(msg)
    if out.exists() and not out.is_dir():
        msg = f"--out {out} is a file: give a folder path"
        raise ValueError(msg)
    if not out.exists() or not any(out.iterdir()):
        return
    if not force:
        msg = f"{out} exists and is not empty: use --force to replace it, or choose a new folder"
        raise ValueError(msg)
    if not (out / MANIFEST_NAME).is_file():
        msg = (
            f"{out} is not a dataset written by 'inspector dataset import' (no {MANIFEST_NAME}); "
            "--force only replaces those: choose a new folder or delete it yourself"
        )
        raise ValueError(msg)


def new_staging(out: Path) -> Path:
    """A fresh, uniquely named ``OUT.partial-*`` folder beside ``out`` (same file system)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{out.name}.partial-", dir=out.parent))


def commit(staging: Path, out: Path) -> None:
    """Rename the finished ``staging`` folder to ``out``, replacing an old dataset there.

    An old dataset is first renamed aside, so whatever happens ``out`` holds
    either the old dataset or the new one, never a mixture.
    """
    if not out.exists():
        os.replace(staging, out)
        return
    if not any(out.iterdir()):
        out.rmdir()
        os.replace(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f"{out.name}.old-", dir=out.parent))
    os.replace(out, old / out.name)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(old / out.name, out)
        raise
    shutil.rmtree(old)


class DatasetWriter:
    """Writes images and masks into a staging folder under safe, unique names.

    Stems are made safe (no separators, no ``..``, no leading dot) and made
    unique per class folder, case-insensitively, counting the mask names too:
    ``a.jpg`` (mask ``a.png``) and a PNG image ``a.png`` cannot both be kept
    under their own names, so the second becomes ``a-2.png``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._taken: dict[str, set[str]] = {}

    def add(
        self, defect_class: str, stem: str, suffix: str, data: bytes, mask: np.ndarray | None
    ) -> tuple[str, str | None, str | None]:
        """Write one image (its original bytes) and its mask (as a grey PNG).

        Returns:
            The image's and the mask's paths relative to the dataset root
            (``None`` without a mask), and the mask file's SHA-256.
        """
        folder = self.root / defect_class
        folder.mkdir(exist_ok=True)
        taken = self._taken.setdefault(defect_class, set())
        base = safe_stem(stem)
        image, number = folder / f"{base}{suffix.lower()}", 1
        while image.name.lower() in taken or mask_path_for(image).name.lower() in taken:
            number += 1
            image = folder / f"{base}-{number}{suffix.lower()}"
        taken.update({image.name.lower(), mask_path_for(image).name.lower()})
        image.write_bytes(data)
        if mask is None:
            return self._relative(image), None, None
        ok, encoded = cv2.imencode(".png", mask)
        if not ok:
            msg = f"OpenCV could not encode the mask of {image} as PNG"
            raise RuntimeError(msg)
        mask_file = mask_path_for(image)
        mask_file.write_bytes(encoded.tobytes())
        return self._relative(image), self._relative(mask_file), sha256(encoded.tobytes())

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def write_manifest(
    root: Path, report: DatasetReport, images: Sequence[Mapping[str, object]]
) -> None:
    """Write ``dataset.json``: version, provenance, class counts, every image, the report."""
    manifest = {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {"description": report.source, "format": report.format},
        "classes": {
            name: {"images": count, "masks": report.masks.get(name, 0)}
            for name, count in report.classes.items()
        },
        "images": list(images),
        "import_report": report.to_json(),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False)
    (root / MANIFEST_NAME).write_text(text + "\n", encoding="utf-8")


def verify_manifest(root: Path, hashes: Mapping[str, str], usable: Iterable[str]) -> list[Problem]:
    """Compare a dataset folder with its ``dataset.json``.

    Args:
        root: The dataset folder.
        hashes: SHA-256 of every readable image found in it, by relative path.
        usable: The images that passed the checks; only those can be "not
            listed" (the others already have an error of their own).

    Returns:
        Errors for images that are listed but missing, changed since the
        import (image or mask bytes), or present but not listed.
    """
    file = root / MANIFEST_NAME
    if not file.is_file():
        return []
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
        listed = {entry["path"]: entry for entry in manifest["images"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [
            error(
                "manifest_unreadable",
                MANIFEST_NAME,
                f"{MANIFEST_NAME} cannot be read ({exc}): import the dataset again",
            )
        ]
    problems = []
    for path, entry in listed.items():
        if path not in hashes:
            problems.append(
                error("manifest_mismatch", path, f"listed in {MANIFEST_NAME} but not found")
            )
        elif hashes[path] != entry.get("sha256"):
            problems.append(
                error(
                    "manifest_mismatch",
                    path,
                    f"the image changed since it was imported (SHA-256 differs from "
                    f"{MANIFEST_NAME}): restore it or import the dataset again",
                )
            )
        problems.extend(_verify_mask(root, path, entry))
    problems.extend(
        error(
            "manifest_mismatch",
            path,
            f"not listed in {MANIFEST_NAME} (added after the import): import the dataset again",
        )
        for path in sorted(set(usable) - set(listed))
    )
    return problems


def _verify_mask(root: Path, path: str, entry: Mapping[str, object]) -> list[Problem]:
    mask = entry.get("mask")
    if not isinstance(mask, str):
        return []
    file = (root / mask).resolve()
    if not file.is_relative_to(root.resolve()) or not file.is_file():
        return [error("manifest_mismatch", mask, f"mask of {path} is listed but not found")]
    if sha256(file.read_bytes()) != entry.get("mask_sha256"):
        return [
            error(
                "manifest_mismatch",
                mask,
                f"the mask of {path} changed since it was imported: restore it or import again",
            )
        ]
    return []
