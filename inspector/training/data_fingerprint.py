"""Which images exactly a model learned from or an evaluation measured: each image's
SHA-256 and one fingerprint of the set.

Why: an evaluation report goes into a validation file, and its figures hold
only for the very images they were measured on. Two reports with the same
fingerprint measured the same files, labelled and masked the same way; an
image or mask edited, added, removed, renamed or moved to another class
changes it. Each image's own SHA-256 (in ``report.json``) then says which.
Likewise two anomaly models with the same training fingerprint learned from
the same good images, split the same way into learnt and held out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

CHUNK = 1 << 20
"""Bytes read at a time, so a large image never sits in memory twice."""
UNREADABLE = "unreadable"
"""What a file that cannot be opened contributes (the evaluation reports it separately)."""


class _Labelled(Protocol):
    path: Path
    defect_class: str
    mask_path: Path | None


@dataclass(frozen=True)
class SetFingerprint:
    """The fingerprint of a labelled set and each image's SHA-256 (``UNREADABLE`` if none)."""

    fingerprint: str
    images: dict[Path, str]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks; ``UNREADABLE`` when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return UNREADABLE
    return digest.hexdigest()


def fingerprint_labelled(
    root: Path, items: Sequence[_Labelled], known_sha256: Mapping[Path, str] | None = None
) -> SetFingerprint:
    """SHA-256 over every item's class, path relative to ``root``, image and mask content.

    Items are taken in path order, so listing order does not matter; paths are
    relative, so the same set copied to another folder or machine keeps its
    fingerprint. ``known_sha256`` gives files already hashed, images or masks
    (from the bytes an evaluation decoded); the others are read here.
    """
    known = known_sha256 or {}
    digest = hashlib.sha256()
    images: dict[Path, str] = {}
    for item in sorted(items, key=lambda i: i.path.as_posix()):
        image = known.get(item.path) or file_sha256(item.path)
        images[item.path] = image
        mask = "-"
        if item.mask_path is not None:
            mask = known.get(item.mask_path) or file_sha256(item.mask_path)
        name = _relative(item.path, root)
        digest.update(f"{item.defect_class}\t{name}\t{image}\t{mask}\n".encode())
    return SetFingerprint(digest.hexdigest(), images)


def fingerprint_images(
    groups: Mapping[str, tuple[Path | None, Sequence[Path | np.ndarray]]],
) -> str:
    """SHA-256 over named groups of images (``{"train": (root, items), ...}``).

    A file counts by its path relative to its group's ``root`` and its content;
    an image given as an array (no file) by its shape and pixels, in the order
    given. Files are taken in path order, so listing order does not matter.
    """
    digest = hashlib.sha256()
    for group in sorted(groups):
        root, items = groups[group]
        files = sorted((i for i in items if isinstance(i, Path)), key=Path.as_posix)
        for path in files:
            digest.update(f"{group}\t{_relative(path, root)}\t{file_sha256(path)}\n".encode())
        for array in (i for i in items if not isinstance(i, Path)):
            pixels = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
            digest.update(f"{group}\tarray {array.shape} {array.dtype}\t{pixels}\n".encode())
    return digest.hexdigest()


def _relative(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` where it lies under it, in ``/`` form."""
    inside = root is not None and path.is_relative_to(root)
    return (path.relative_to(root) if inside else path).as_posix()
