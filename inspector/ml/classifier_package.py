"""Classifier model packages: a directory with ``model.json`` and ``weights.pt``.

Same principles as the anomaly package (:mod:`inspector.ml.package`): the
package says what it is, proves it is intact and is safe to open. Weights are
a plain state dict read with ``torch.load(weights_only=True)``, which refuses
pickled code; every file is listed in ``model.json`` with its SHA-256 and
checked on load; nothing in the directory is imported or unpickled otherwise.

``model.json`` holds ``format_version``, ``kind`` ("classifier"), ``task``
("classify"; segmentation and detection packages will be other kinds with
the same frame), ``backbone`` and the SHA-256 of the ImageNet weights it
started from, ``head`` (its layers and dropout), ``classes`` (the output
order), ``input_size``, ``mean``/``std``, the ``version`` string
``<name>-<yyyymmdd>-<hash8>``, ``created_at``, ``metrics`` (validation),
``training`` (summary and options), ``dataset`` (fingerprint and counts),
``curves`` (per-epoch figures) and ``files: {name: sha256}``.

Saving is all or nothing (:func:`inspector.ml.package_writer.write_package`):
a crash or a cancel never leaves a half-written package where a station
could pick it up.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from inspector.ml.classifier import DefectClassifier
from inspector.ml.package_fields import METADATA_FILE, PackageReader, sha256
from inspector.ml.package_writer import (
    check_destination,
    check_extra_names,
    check_model_name,
    write_package,
)
from inspector.ml.weights_file import read_state_dict

FORMAT_VERSION = 1
KIND = "classifier"
TASK = "classify"
BACKBONE = "efficientnet_lite0"
HEAD = "global-average-pool, dropout, linear"
WEIGHTS_FILE = "weights.pt"


@dataclass(frozen=True, eq=False)
class ClassifierPackage:
    """A defect classifier: its metadata and weights, in memory.

    Built by training (``version`` ``"unsaved"``, ``path`` ``None``) or by
    :func:`load_classifier_package`; :func:`save_classifier_package` sets
    ``version``, ``created_at``, ``files`` and ``path``.

    Attributes:
        name: Short model name, the first part of ``version``.
        classes: Class names in the order of the model's outputs.
        state_dict: Weights of a :class:`DefectClassifier` for ``classes``, on the CPU.
        backbone_sha256: SHA-256 of the ImageNet weights training started from.
        input_size: Side of the square images are resized to.
        mean: Per-channel normalisation mean.
        std: Per-channel normalisation standard deviation.
        dropout: Dropout of the head (inactive at inference; kept to rebuild it).
        metrics: Validation results.
        training: Training summary and options.
        dataset: Dataset fingerprint and counts.
        curves: Per-epoch figures (losses, accuracies, learning rate...).
        version: ``<name>-<yyyymmdd>-<hash8>``.
        created_at: ISO-8601 UTC time the package was saved.
        files: SHA-256 of each data file in the package directory.
        path: Package directory, when it came from or went to disk.
    """

    name: str
    classes: tuple[str, ...]
    state_dict: Mapping[str, torch.Tensor]
    backbone_sha256: str
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    dropout: float = 0.2
    metrics: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    dataset: Mapping[str, Any] = field(default_factory=dict)
    curves: Sequence[Mapping[str, Any]] = ()
    version: str = "unsaved"
    created_at: str = ""
    files: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None


_READER = PackageReader("model package file", "re-train the model")
_fail = _READER.fail
_field = _READER.field


def _check_classes(classes: Sequence[str]) -> None:
    if len(classes) < 2 or len(set(classes)) != len(classes):
        msg = f"classes {list(classes)} must be at least two distinct names"
        raise ValueError(msg)
    if not all(isinstance(c, str) and c for c in classes):
        msg = f"classes {list(classes)} must be non-empty strings"
        raise ValueError(msg)


def _expected_shapes(num_classes: int) -> dict[str, tuple[int, ...]]:
    """Shapes of a :class:`DefectClassifier` state dict, without allocating weights."""
    with torch.device("meta"):
        model = DefectClassifier(num_classes)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def _check_state_dict(state: Mapping[str, Any], num_classes: int) -> str | None:
    """What is wrong with ``state`` for ``num_classes`` classes, or ``None``."""
    expected = _expected_shapes(num_classes)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        return f"weights lack {missing[:3]} or have unexpected {unexpected[:3]}"
    for key, shape in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            return f"weight {key} is {got}, expected {shape}"
        if value.is_floating_point() and not torch.isfinite(value).all():
            return f"weight {key} has inf/nan values"
    return None


def _metadata(package: ClassifierPackage) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "task": TASK,
        "name": package.name,
        "version": package.version,
        "created_at": package.created_at,
        "backbone": BACKBONE,
        "backbone_sha256": package.backbone_sha256,
        "head": {"layers": HEAD, "dropout": package.dropout},
        "classes": list(package.classes),
        "input_size": package.input_size,
        "mean": list(package.mean),
        "std": list(package.std),
        "metrics": dict(package.metrics),
        "training": dict(package.training),
        "dataset": dict(package.dataset),
        "curves": [dict(row) for row in package.curves],
        "files": dict(package.files),
    }


def save_classifier_package(
    package: ClassifierPackage,
    directory: str | Path,
    *,
    extra_files: Mapping[str, bytes] | None = None,
    overwrite: bool = False,
) -> ClassifierPackage:
    """Write ``package`` to ``directory`` all at once and return it as saved.

    Args:
        package: The model to save.
        directory: Package folder; it must not exist, be empty, or (with
            ``overwrite``) hold a package, which is replaced.
        extra_files: Further files for the package (a training-curves plot...),
            by plain file name; listed and checked like the weights.
        overwrite: Replace a package already in ``directory``.

    Raises:
        ValueError: bad name or classes, weights that do not fit the classes
            or are not finite, a bad extra file name, or an unusable destination.
    """
    check_model_name(package.name)
    _check_classes(package.classes)
    state = {k: v.detach().to("cpu").contiguous() for k, v in package.state_dict.items()}
    problem = _check_state_dict(state, len(package.classes))
    if problem is not None:
        msg = f"cannot save the classifier: {problem}"
        raise ValueError(msg)
    extra = dict(extra_files or {})
    check_extra_names(extra, (WEIGHTS_FILE,))
    folder = Path(directory)
    check_destination(folder, overwrite=overwrite)

    buffer = io.BytesIO()
    torch.save(state, buffer)
    contents = {WEIGHTS_FILE: buffer.getvalue(), **extra}
    weights_sha = sha256(contents[WEIGHTS_FILE])
    created = datetime.now(UTC).replace(microsecond=0)
    saved = replace(
        package,
        state_dict=state,
        version=f"{package.name}-{created:%Y%m%d}-{weights_sha[:8]}",
        created_at=created.isoformat(),
        files={name: sha256(data) for name, data in contents.items()},
        path=folder,
    )
    text = json.dumps(_metadata(saved), indent=2, allow_nan=False) + "\n"
    write_package(folder, {**contents, METADATA_FILE: text.encode()}, overwrite=overwrite)
    return saved


def _read_metadata(folder: Path) -> dict[str, Any]:
    meta = _READER.metadata(folder)
    file = folder / METADATA_FILE
    if meta.get("format_version") != FORMAT_VERSION:
        problem = (
            f"has format_version {meta.get('format_version')!r}, this Inspector reads "
            f"{FORMAT_VERSION}: use the Inspector version that made it, or re-train"
        )
        raise _fail(file, problem)
    if meta.get("kind") != KIND or meta.get("backbone") != BACKBONE:
        problem = (
            f"is a {meta.get('kind')!r} model on {meta.get('backbone')!r}, expected {KIND!r} "
            f"on {BACKBONE!r}: load it with the matching model type"
        )
        raise _fail(file, problem)
    return meta


def load_classifier_package(directory: str | Path) -> ClassifierPackage:
    """Read and check a classifier package; never runs code from it.

    Raises:
        ModelPackageError: the folder or a file is missing, ``model.json`` is
            not valid JSON or lacks a field, the package is of another kind or
            format version, a file's SHA-256 differs from ``model.json``, or
            the weights are not a plain state dict of the right shapes. The
            message names the file and what to do.
    """
    folder = Path(directory)
    meta = _read_metadata(folder)
    file = folder / METADATA_FILE
    classes = tuple(_field(meta, "classes", list, file))
    try:
        _check_classes(classes)
    except ValueError as exc:
        raise _fail(file, f"{exc}: re-train the model") from exc
    input_size = _field(meta, "input_size", int, file)
    if input_size < 32:
        raise _fail(file, f"'input_size' is {input_size}, expected 32 or more")
    mean, std = _READER.numbers(meta, "mean", 3, file), _READER.numbers(meta, "std", 3, file)
    if not all(v > 0 for v in std):
        raise _fail(file, f"'std' is {list(std)}, expected positive numbers")
    dropout = _field(meta, "head", dict, file).get("dropout")
    if not isinstance(dropout, int | float) or isinstance(dropout, bool) or not 0 <= dropout < 1:
        raise _fail(file, f"'head.dropout' is {dropout!r}, expected a number in [0, 1)")
    files = _field(meta, "files", dict, file)
    state = read_state_dict(_READER, folder, files, file, WEIGHTS_FILE)
    weights_path = folder / WEIGHTS_FILE
    problem = _check_state_dict(state, len(classes))
    if problem is not None:
        raise _fail(weights_path, f"{problem} for {len(classes)} classes: re-train the model")
    curves = meta.get("curves") or []
    return ClassifierPackage(
        name=_field(meta, "name", str, file),
        classes=classes,
        state_dict=state,
        backbone_sha256=_field(meta, "backbone_sha256", str, file),
        input_size=input_size,
        mean=mean,
        std=std,
        dropout=float(dropout),
        metrics=meta.get("metrics") or {},
        training=meta.get("training") or {},
        dataset=meta.get("dataset") or {},
        curves=tuple(curves) if isinstance(curves, list) else (),
        version=_field(meta, "version", str, file),
        created_at=str(meta.get("created_at", "")),
        files=dict(files),
        path=folder,
    )
