"""Segmenter model packages: a folder with ``model.json`` and ``weights.pt``, like the classifier's.

The same principles (:mod:`inspector.ml.classifier_package`): weights are a
plain state dict read with ``torch.load(weights_only=True)``; every file is
listed in ``model.json`` with its SHA-256 and checked on load; saving is all
or nothing (:func:`inspector.ml.package_writer.write_package`).

``model.json`` holds ``format_version``, ``kind`` ("segmenter"), ``task``
("segment" or "detect"), ``backbone`` and ``backbone_sha256``, ``decoder``,
``outputs`` (the output maps: ``["defect"]``, or one per defect class to
detect), ``input_size``, ``mean``/``std``, ``default_threshold``, ``version``
``<name>-<yyyymmdd>-<hash8>``, ``created_at``, ``metrics`` (validation, with
their definitions), ``training``, ``dataset`` (fingerprint, counts),
``curves`` and ``files: {name: sha256}``.
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

from inspector.ml.package_fields import METADATA_FILE, PackageReader, sha256
from inspector.ml.package_writer import check_extra_names, check_model_name, write_package
from inspector.ml.segmenter import FEATURE_STAGES, DefectSegmenter
from inspector.ml.weights_file import read_state_dict

FORMAT_VERSION = 1
KIND = "segmenter"
TASKS = ("segment", "detect")
BACKBONE = "efficientnet_lite0"
DECODER = f"FPN over stages {list(FEATURE_STAGES)}, logits at stride 4, bilinear to the input"
WEIGHTS_FILE = "weights.pt"


@dataclass(frozen=True, eq=False)
class SegmenterPackage:
    """A defect segmenter: its metadata and weights, in memory.

    Attributes:
        name: Short model name, the first part of ``version``.
        task: ``segment`` or ``detect``.
        outputs: Names of the output maps, in order.
        state_dict: Weights of a :class:`DefectSegmenter` with ``len(outputs)`` maps, on the CPU.
        backbone_sha256: SHA-256 of the ImageNet weights training started from.
        input_size: Side of the square images are resized to.
        mean: Per-channel normalisation mean.
        std: Per-channel normalisation standard deviation.
        default_threshold: Probability a pixel needs to count as defect.
        metrics: Validation results.
        training: Training summary and options.
        dataset: Dataset fingerprint and counts.
        curves: Per-epoch figures.
        version: ``<name>-<yyyymmdd>-<hash8>`` (``"unsaved"`` before saving).
        created_at: ISO-8601 UTC time the package was saved.
        files: SHA-256 of each data file in the package directory.
        path: Package directory, when it came from or went to disk.
    """

    name: str
    task: str
    outputs: tuple[str, ...]
    state_dict: Mapping[str, torch.Tensor]
    backbone_sha256: str
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    default_threshold: float = 0.5
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


def _check_outputs(task: str, outputs: Sequence[str]) -> None:
    if task not in TASKS:
        msg = f"task {task!r} is not one of {', '.join(TASKS)}"
        raise ValueError(msg)
    if not outputs or len(set(outputs)) != len(outputs):
        msg = f"outputs {list(outputs)} must be at least one distinct name"
        raise ValueError(msg)
    if not all(isinstance(name, str) and name for name in outputs):
        msg = f"outputs {list(outputs)} must be non-empty strings"
        raise ValueError(msg)


def _check_state_dict(state: Mapping[str, Any], num_outputs: int) -> str | None:
    """What is wrong with ``state`` for ``num_outputs`` maps, or ``None``."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in DefectSegmenter(num_outputs).state_dict().items()}
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


def _metadata(package: SegmenterPackage) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "task": package.task,
        "name": package.name,
        "version": package.version,
        "created_at": package.created_at,
        "backbone": BACKBONE,
        "backbone_sha256": package.backbone_sha256,
        "decoder": DECODER,
        "outputs": list(package.outputs),
        "input_size": package.input_size,
        "mean": list(package.mean),
        "std": list(package.std),
        "default_threshold": package.default_threshold,
        "metrics": dict(package.metrics),
        "training": dict(package.training),
        "dataset": dict(package.dataset),
        "curves": [dict(row) for row in package.curves],
        "files": dict(package.files),
    }


def save_segmenter_package(
    package: SegmenterPackage,
    directory: str | Path,
    *,
    extra_files: Mapping[str, bytes] | None = None,
    overwrite: bool = False,
) -> SegmenterPackage:
    """Write ``package`` to ``directory`` all at once and return it as saved.

    Raises:
        ValueError: bad name, task or outputs, weights that do not fit or are
            not finite, a bad extra file name, or an unusable destination.
    """
    check_model_name(package.name)
    _check_outputs(package.task, package.outputs)
    state = {k: v.detach().to("cpu").contiguous() for k, v in package.state_dict.items()}
    problem = _check_state_dict(state, len(package.outputs))
    if problem is not None:
        msg = f"cannot save the segmenter: {problem}"
        raise ValueError(msg)
    extra = dict(extra_files or {})
    check_extra_names(extra, (WEIGHTS_FILE,))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    contents = {WEIGHTS_FILE: buffer.getvalue(), **extra}
    created = datetime.now(UTC).replace(microsecond=0)
    saved = replace(
        package,
        state_dict=state,
        version=f"{package.name}-{created:%Y%m%d}-{sha256(contents[WEIGHTS_FILE])[:8]}",
        created_at=created.isoformat(),
        files={name: sha256(data) for name, data in contents.items()},
        path=Path(directory),
    )
    text = json.dumps(_metadata(saved), indent=2, allow_nan=False) + "\n"
    write_package(directory, {**contents, METADATA_FILE: text.encode()}, overwrite=overwrite)
    return saved


def load_segmenter_package(directory: str | Path) -> SegmenterPackage:
    """Read and check a segmenter package; never runs code from it.

    Raises:
        ModelPackageError: the folder or a file is missing, ``model.json`` is
            invalid or of another kind, a file's SHA-256 differs, or the
            weights are not a plain state dict of the right shapes; the
            message names the file and what to do.
    """
    folder = Path(directory)
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
    task = _field(meta, "task", str, file)
    outputs = tuple(_field(meta, "outputs", list, file))
    try:
        _check_outputs(task, outputs)
    except ValueError as exc:
        raise _fail(file, f"{exc}: re-train the model") from exc
    input_size = _field(meta, "input_size", int, file)
    if input_size < 32:
        raise _fail(file, f"'input_size' is {input_size}, expected 32 or more")
    mean, std = _READER.numbers(meta, "mean", 3, file), _READER.numbers(meta, "std", 3, file)
    if not all(v > 0 for v in std):
        raise _fail(file, f"'std' is {list(std)}, expected positive numbers")
    threshold = _field(meta, "default_threshold", (int, float), file)
    if not 0 < threshold < 1:
        raise _fail(file, f"'default_threshold' is {threshold}, expected a number in (0, 1)")
    files = _field(meta, "files", dict, file)
    state = read_state_dict(_READER, folder, files, file, WEIGHTS_FILE)
    weights_path = folder / WEIGHTS_FILE
    problem = _check_state_dict(state, len(outputs))
    if problem is not None:
        raise _fail(weights_path, f"{problem} for {len(outputs)} maps: re-train the model")
    curves = meta.get("curves") or []
    return SegmenterPackage(
        name=_field(meta, "name", str, file),
        task=task,
        outputs=outputs,
        state_dict=state,
        backbone_sha256=_field(meta, "backbone_sha256", str, file),
        input_size=input_size,
        mean=mean,
        std=std,
        default_threshold=float(threshold),
        metrics=meta.get("metrics") or {},
        training=meta.get("training") or {},
        dataset=meta.get("dataset") or {},
        curves=tuple(curves) if isinstance(curves, list) else (),
        version=_field(meta, "version", str, file),
        created_at=str(meta.get("created_at", "")),
        files=dict(files),
        path=folder,
    )
