"""Reading a package's ``model.json`` and hashed files with errors that say what to do.

The anomaly, runtime and classifier packages share one on-disk shape (a folder
with ``model.json`` listing each file's SHA-256); this is the one place that
reads it, so every package refuses a damaged or foreign file with the same kind
of message. It imports neither torch nor numpy, so the torch-free runtime can
use it too.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.core.errors import ModelPackageError

METADATA_FILE = "model.json"

AS_CAPTURED = "as-captured"
"""Exposure setting: the network sees the camera's grey levels (every package before session 8)."""

STANDARDISED = "standardised"
"""Exposure setting: each image's grey levels standardised first
(:func:`inspector.ml.pixels.standardise_exposure`)."""

EXPOSURES = (AS_CAPTURED, STANDARDISED)

STANDARDISED_FORMAT = 2
"""``format_version`` of anomaly packages (torch and runtime) whose images are standardised
before the network (``"exposure": "standardised"``). Inspector versions before it read
format 1 only, so they refuse such a package instead of feeding it camera grey levels."""


def anomaly_format_version(exposure: str, plain: int) -> int:
    """The ``format_version`` an anomaly package with this ``exposure`` is written with
    (``plain``: the package kind's format without standardising)."""
    return STANDARDISED_FORMAT if exposure == STANDARDISED else plain


def check_exposure(exposure: str) -> str:
    """Return ``exposure`` if it is one of :data:`EXPOSURES`, else raise ``ValueError``."""
    if exposure not in EXPOSURES:
        msg = f"exposure is {exposure!r}, expected one of {', '.join(EXPOSURES)}"
        raise ValueError(msg)
    return exposure


def check_anomaly_format(meta: Mapping[str, Any], plain: int) -> str | None:
    """Why ``format_version`` and ``exposure`` of ``meta`` cannot be read, or ``None``
    (an absent ``exposure`` is :data:`AS_CAPTURED`, what packages before it meant)."""
    version, exposure = meta.get("format_version"), meta.get("exposure", AS_CAPTURED)
    if version not in (plain, STANDARDISED_FORMAT):
        return (
            f"has format_version {version!r}, this Inspector reads {plain} and "
            f"{STANDARDISED_FORMAT}: use the Inspector version that made it (or a newer one)"
        )
    if exposure not in EXPOSURES:
        return (
            f"'exposure' is {exposure!r}, expected one of {', '.join(EXPOSURES)}: "
            "run a newer Inspector"
        )
    if version != anomaly_format_version(exposure, plain):
        return f"says format_version {version!r} with exposure {exposure!r}; they do not agree"
    return None


def is_finite_number(value: object) -> bool:
    """Whether a JSON value is a finite number (``true`` is not one, nor ``NaN``)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``: the hash ``model.json`` keeps for each file."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PackageReader:
    """Checks of one package type, each error naming the file and the remedy.

    Attributes:
        label: How the messages name a file, e.g. "model package file".
        remedy: What fixes a wrong field, e.g. "re-export the model".
    """

    label: str = "model package file"
    remedy: str = "re-export the model"

    def fail(self, file: Path, problem: str) -> ModelPackageError:
        """The error for ``problem`` in ``file`` (raise it)."""
        return ModelPackageError(f"{self.label} {file}: {problem}")

    def field(
        self, meta: Mapping[str, Any], key: str, kind: type | tuple[type, ...], file: Path
    ) -> Any:
        """``meta[key]`` when it has one of the types ``kind`` (never a bool for a number)."""
        value = meta.get(key)
        if value is None or not isinstance(value, kind) or isinstance(value, bool):
            kinds = (kind,) if isinstance(kind, type) else kind
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(file, f"'{key}' is {value!r}, expected a {names}: {self.remedy}")
        return value

    def numbers(
        self, meta: Mapping[str, Any], key: str, count: int, file: Path
    ) -> tuple[float, ...]:
        """``meta[key]`` as exactly ``count`` finite numbers."""
        value = self.field(meta, key, list, file)
        ok = len(value) == count and all(is_finite_number(v) for v in value)
        if not ok:
            raise self.fail(file, f"'{key}' is {value!r}, expected {count} numbers: {self.remedy}")
        return tuple(float(v) for v in value)

    def metadata(self, folder: Path) -> dict[str, Any]:
        """``model.json`` of ``folder`` as a dict.

        Raises:
            ModelPackageError: the folder or its ``model.json`` is missing,
                unreadable or not a JSON object.
        """
        if not folder.is_dir():
            msg = f"model package {folder} does not exist or is not a folder: check the model path"
            raise ModelPackageError(msg)
        file = folder / METADATA_FILE
        try:
            meta = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            msg = (
                f"{folder} has no {METADATA_FILE}: it is not a model package (or was copied partly)"
            )
            raise ModelPackageError(msg) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise self.fail(file, f"cannot be read ({exc}): copy the package again") from exc
        except json.JSONDecodeError as exc:
            problem = f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            raise self.fail(file, f"{problem}: copy the package again") from exc
        if not isinstance(meta, dict):
            raise self.fail(file, f"holds a JSON {type(meta).__name__}, expected an object")
        return meta

    def hashed_files(
        self,
        folder: Path,
        files: Mapping[str, Any],
        meta_file: Path,
        *,
        required: Collection[str],
        only_required: bool = False,
    ) -> dict[str, bytes]:
        """Read the files ``model.json`` lists and check each against its SHA-256.

        Args:
            folder: The package folder.
            files: ``model.json``'s ``files`` table (name → SHA-256).
            meta_file: ``model.json`` itself, named in errors about the table.
            required: Names the table must list.
            only_required: Read just ``required`` (a reader that ignores the rest).

        Returns:
            The checked bytes of each file read, by name.
        """
        for name in files:
            if Path(name).name != name or name in ("", ".", ".."):
                problem = f"'files' names {name!r}, which is not a plain file name"
                raise self.fail(meta_file, problem)
        for name in required:
            if name not in files:
                raise self.fail(meta_file, f"'files' does not list {name}: {self.remedy}")
        contents = {}
        for name in required if only_required else files:
            path = folder / name
            try:
                contents[name] = path.read_bytes()
            except OSError as exc:
                msg = f"{self.label} {path} is missing or unreadable: copy the package again"
                raise ModelPackageError(msg) from exc
            actual = sha256(contents[name])
            if actual != files[name]:
                problem = (
                    f"has SHA-256 {actual[:12]}..., {METADATA_FILE} expects "
                    f"{str(files[name])[:12]}...: the file is damaged or was changed; "
                    "copy the package again"
                )
                raise self.fail(path, problem)
        return contents
