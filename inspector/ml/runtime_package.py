"""Runtime packages: an exported model that ONNX Runtime runs, without torch.

A runtime package is a folder with ``network.onnx`` (the whole PatchCore
forward: normalised images and the memory bank in, raw scores and maps out),
``memory_bank.npy`` (the bank of good-patch features as a plain array, in the
dtype the torch package stored it) and ``model.json``. The bank is a graph
*input*, not a constant in the graph, so it stays a plain array file that can
be inspected, hashed and replaced like the torch package's, and the threshold
is in neither: ``decision`` owns it and may change it without a re-export.

``model.json`` has the torch package's fields (``name``, ``layers``,
``input_size``, ``mean``/``std``, ``sigma``, ``score_top_fraction``,
``threshold``, ``training``, ``metrics``, ``bank_size``, ``feature_dim``) plus
``"backend": "onnxruntime"``, the ONNX ``opset``, the ``exporter``, the
``source_version`` and ``source_files`` of the torch package it came from, the
``export_check`` (torch against ONNX Runtime on sample images at export time)
and the SHA-256 of each file. Loading checks every hash on the very bytes it
then uses, reads the array with ``allow_pickle=False`` and never runs code from
the folder. This module imports neither torch nor ONNX Runtime.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.ml.lighting import LightingRange, lighting_entry
from inspector.ml.package_fields import (
    METADATA_FILE,
    PackageReader,
    anomaly_format_version,
    check_anomaly_format,
    check_exposure,
    sha256,
)
from inspector.ml.pixels import AS_CAPTURED

FORMAT_VERSION = 1
BACKEND = "onnxruntime"
KIND = "patchcore"
NETWORK_FILE = "network.onnx"
BANK_FILE = "memory_bank.npy"
BANK_DTYPES = ("float16", "float32")
BRANCH_KEYS = ("global_branch", "score_normalisation", "retrieval")
"""``model.json`` sections the source's branches are stated in (all inside the graph)."""


@dataclass(frozen=True, eq=False)
class RuntimePackage:
    """An exported anomaly model, in memory, as ONNX Runtime will run it.

    Attributes:
        name: Model name (the source package's).
        version: ``<source version>-onnx``; recorded with every inspection.
        source_version: Version of the torch package it was exported from.
        backbone: Backbone name (``"efficientnet_lite0"``, ...), for people.
        backbone_sha256: SHA-256 of the backbone weights the source was fitted with.
        layers: Backbone stages the patch features come from.
        feature_stride: Input pixels per feature cell (bounds the distance matrix).
        input_size: Side of the square images are resized to.
        mean: Per-channel normalisation mean.
        std: Per-channel normalisation standard deviation.
        sigma: Map smoothing in input pixels (done inside the graph).
        score_top_fraction: Image score rule (inside the graph); 0 = map maximum.
        threshold: Default image-score threshold, for ``decision`` to start from.
        memory_bank: ``(M, D)`` good-patch features as stored (float16 or float32).
        network: The bytes of ``network.onnx``, hash-checked.
        opset: ONNX opset of the graph.
        exporter: Which exporter wrote the graph, with versions.
        training: The source's training data summary.
        metrics: The source's validation results.
        export_check: What the export verified (images, largest score difference).
        branches: The source's image-level branch and score normalisation, as
            stated in its ``model.json`` (both are inside the graph); empty for
            patch-only models.
        source_files: SHA-256 of the source package's files.
        quantization: For an INT8 network: how it was quantised and what that
            cost in quality against the fp32 export (empty for fp32).
        created_at: ISO-8601 UTC time of the export.
        files: SHA-256 of each data file.
        path: Package folder, once on disk.
        exposure: Whether images are standardised before the network (the source's).
        lighting: The source's taught lighting range (:mod:`inspector.ml.lighting`), or ``None``.
    """

    name: str
    version: str
    source_version: str
    backbone: str
    backbone_sha256: str
    layers: tuple[int, ...]
    feature_stride: int
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    sigma: float
    score_top_fraction: float
    threshold: float
    memory_bank: np.ndarray = field(repr=False)
    network: bytes = field(repr=False)
    opset: int
    exporter: str
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    export_check: Mapping[str, Any] = field(default_factory=dict)
    branches: Mapping[str, Any] = field(default_factory=dict)
    source_files: Mapping[str, str] = field(default_factory=dict)
    quantization: Mapping[str, Any] = field(default_factory=dict)
    created_at: str = ""
    files: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None
    exposure: str = AS_CAPTURED
    lighting: LightingRange | None = None


def bank_bytes(bank: np.ndarray) -> bytes:
    """The ``.npy`` bytes of a bank, exactly as written to ``memory_bank.npy``."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(bank), allow_pickle=False)
    return buffer.getvalue()


def file_hashes(package: RuntimePackage) -> dict[str, str]:
    """SHA-256 of the network and bank files as they will be (or were) written."""
    bank = bank_bytes(package.memory_bank)
    return {NETWORK_FILE: sha256(package.network), BANK_FILE: sha256(bank)}


def _metadata(package: RuntimePackage) -> dict[str, Any]:
    return {
        "format_version": anomaly_format_version(package.exposure, FORMAT_VERSION),
        "kind": KIND,
        "backend": BACKEND,
        "name": package.name,
        "version": package.version,
        "source_version": package.source_version,
        "created_at": package.created_at,
        "backbone": package.backbone,
        "backbone_sha256": package.backbone_sha256,
        "layers": list(package.layers),
        "feature_stride": package.feature_stride,
        "input_size": package.input_size,
        "mean": list(package.mean),
        "std": list(package.std),
        **({"exposure": package.exposure} if package.exposure != AS_CAPTURED else {}),
        "sigma": package.sigma,
        "score_top_fraction": package.score_top_fraction,
        "threshold": package.threshold,
        "bank_size": int(package.memory_bank.shape[0]),
        "feature_dim": int(package.memory_bank.shape[1]),
        "bank_dtype": str(package.memory_bank.dtype),
        "opset": package.opset,
        "exporter": package.exporter,
        "export_check": dict(package.export_check),
        **({"quantization": dict(package.quantization)} if package.quantization else {}),
        **dict(package.branches),
        **({"lighting": package.lighting.as_json()} if package.lighting is not None else {}),
        "training": dict(package.training),
        "metrics": dict(package.metrics),
        "source_files": dict(package.source_files),
        "files": file_hashes(package),
    }


def save_runtime_package(
    package: RuntimePackage, directory: str | Path, *, overwrite: bool = False
) -> Path:
    """Write ``package`` to ``directory``; ``model.json`` last, so a folder with it is complete.

    Raises:
        ValueError: ``directory`` already holds a package and ``overwrite`` is
            false, the bank is not a finite 2-D float16/float32 array, or the
            exposure setting is unknown.
    """
    check_exposure(package.exposure)
    bank = package.memory_bank
    if bank.ndim != 2 or str(bank.dtype) not in BANK_DTYPES or not np.isfinite(bank).all():
        msg = f"memory bank {bank.dtype} {bank.shape} is not a finite 2-D float16/float32 array"
        raise ValueError(msg)
    folder = Path(directory)
    if (folder / METADATA_FILE).exists() and not overwrite:
        msg = f"{folder} already holds a model package: choose another folder or pass --overwrite"
        raise ValueError(msg)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_metadata(package), indent=2, allow_nan=False) + "\n"
    (folder / NETWORK_FILE).write_bytes(package.network)
    (folder / BANK_FILE).write_bytes(bank_bytes(bank))
    temporary = folder / (METADATA_FILE + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(folder / METADATA_FILE)
    return folder


_READER = PackageReader("runtime package file", "export the model again")
_fail = _READER.fail
_get = _READER.field


def read_metadata(folder: Path) -> dict[str, Any]:
    """``model.json`` of a package folder as a dict (any backend), with readable errors.

    Raises:
        ModelPackageError: the folder or its ``model.json`` is missing, unreadable
            or not a JSON object.
    """
    return _READER.metadata(folder)


def _read_bank(data: bytes, path: Path, shape: tuple[int, int]) -> np.ndarray:
    try:
        bank = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle: refused, never unpickled
        raise _fail(path, f"is not a plain numeric array and was not loaded ({exc})") from exc
    if not isinstance(bank, np.ndarray) or str(bank.dtype) not in BANK_DTYPES:
        raise _fail(path, f"holds {getattr(bank, 'dtype', type(bank))}, expected float16/float32")
    if bank.shape != shape:
        problem = (
            f"holds a memory bank of shape {bank.shape}, but model.json says {shape} "
            "(bank_size, feature_dim): the bank does not belong to this network; export again"
        )
        raise _fail(path, problem)
    if not np.isfinite(bank).all():
        raise _fail(path, "holds inf or nan values: export the model again")
    return bank


def load_runtime_package(directory: str | Path) -> RuntimePackage:
    """Read and check a runtime package; never runs code from it.

    Raises:
        ModelPackageError: the folder or a file is missing, ``model.json`` is not
            a runtime package of this format or lacks a field, a file's SHA-256
            differs from ``model.json``, or the bank's shape or dtype is wrong.
            The message names the file and what to do.
    """
    folder = Path(directory)
    meta = read_metadata(folder)
    file = folder / METADATA_FILE
    if meta.get("backend") != BACKEND:
        problem = (
            f"has backend {meta.get('backend', 'torch')!r}, not {BACKEND!r}: it is not an ONNX "
            "Runtime package; export it with 'inspector export --format onnx', or use the "
            "torch backend"
        )
        raise _fail(file, problem)
    if meta.get("kind") != KIND:
        problem = (
            f"is of kind {meta.get('kind')!r}; this Inspector reads kind {KIND!r}: "
            "export the model again"
        )
        raise _fail(file, problem)
    problem = check_anomaly_format(meta, FORMAT_VERSION)
    if problem is not None:
        raise _fail(file, f"{problem}, or export the model again")
    layers = tuple(_get(meta, "layers", list, file))
    if not layers or not all(isinstance(s, int) and not isinstance(s, bool) for s in layers):
        raise _fail(file, f"'layers' is {list(layers)!r}, expected backbone stage numbers")
    input_size = _get(meta, "input_size", int, file)
    stride = _get(meta, "feature_stride", int, file)
    threshold = float(_get(meta, "threshold", (int, float), file))
    if input_size < 16 or not 1 <= stride <= input_size or not math.isfinite(threshold):
        problem = "'input_size', 'feature_stride' or 'threshold' is out of range"
        raise _fail(file, f"{problem}: export the model again")
    std = _READER.numbers(meta, "std", 3, file)
    if not all(v > 0 for v in std):
        raise _fail(file, f"'std' is {list(std)}, expected positive numbers")
    shape = (_get(meta, "bank_size", int, file), _get(meta, "feature_dim", int, file))
    files = _get(meta, "files", dict, file)
    contents = _READER.hashed_files(
        folder, files, file, required=(NETWORK_FILE, BANK_FILE), only_required=True
    )
    return RuntimePackage(
        name=_get(meta, "name", str, file),
        version=_get(meta, "version", str, file),
        source_version=_get(meta, "source_version", str, file),
        backbone=_get(meta, "backbone", str, file),
        backbone_sha256=_get(meta, "backbone_sha256", str, file),
        layers=layers,
        feature_stride=stride,
        input_size=input_size,
        mean=_READER.numbers(meta, "mean", 3, file),
        std=std,
        sigma=float(_get(meta, "sigma", (int, float), file)),
        score_top_fraction=float(_get(meta, "score_top_fraction", (int, float), file)),
        threshold=threshold,
        memory_bank=_read_bank(contents[BANK_FILE], folder / BANK_FILE, shape),
        network=contents[NETWORK_FILE],
        opset=_get(meta, "opset", int, file),
        exporter=_get(meta, "exporter", str, file),
        training=meta.get("training") or {},
        metrics=meta.get("metrics") or {},
        export_check=meta.get("export_check") or {},
        branches={k: meta[k] for k in BRANCH_KEYS if k in meta},
        source_files=meta.get("source_files") or {},
        quantization=meta.get("quantization") or {},
        created_at=str(meta.get("created_at", "")),
        files=dict(_get(meta, "files", dict, file)),
        path=folder,
        exposure=meta.get("exposure", AS_CAPTURED),  # checked with the format version
        lighting=lighting_entry(meta, lambda problem: _fail(file, problem)),
    )
