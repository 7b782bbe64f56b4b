"""Anomaly model packages: a directory with ``model.json`` and ``memory_bank.pt``.

A package is what gets copied to a station, shipped in ``models/`` and named
in every inspection record, so it has to say what it is (metadata), prove it
is intact (SHA-256 of each file) and be safe to open: tensors are read with
``torch.load(weights_only=True)``, which refuses pickled code, and nothing
else in the directory is ever imported or unpickled.

``model.json`` holds ``format_version``, ``kind`` ("patchcore"), ``backbone``
("efficientnet_lite0", ``_lite1`` or ``_lite2``) and the SHA-256 of its weights file, ``layers``,
``input_size``, ``mean``/``std``, ``sigma``, ``score_top_fraction`` (optional,
0 when absent: packages written before it existed score by the map maximum,
exactly as they did), the default ``threshold``, the
``version`` string ``<name>-<yyyymmdd>-<hash8>``, ``created_at``, a
``training`` data summary, ``metrics`` and ``files: {name: sha256}``. The bank
is stored float16, halving the file; distances are computed in float32.
A model with an image-level branch also has ``global_branch`` (``stage``,
``descriptor``, ``bank_size``), ``score_normalisation`` (centre and scale of
each branch on held-out good parts) and the file ``global_bank.pt``; packages
without them are patch-only, exactly as before. A retrieval model
(:mod:`inspector.ml.retrieval`) also has ``retrieval`` (``k``,
``rows_per_image``): its memory bank is a gallery of ``rows_per_image`` rows
per image of the image-level bank, in that bank's order; packages without it
search the whole bank, as before.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from inspector.ml.anomaly_result import ScoreNormalisation
from inspector.ml.efficientnet_lite import DEFAULT_VARIANT, STAGES, VARIANTS
from inspector.ml.image_descriptor import descriptor_name, grid_of
from inspector.ml.lighting import LightingRange, lighting_entry
from inspector.ml.localisation_head import head_from_state
from inspector.ml.package_fields import (
    METADATA_FILE,
    PackageReader,
    anomaly_format_version,
    check_anomaly_format,
    sha256,
)
from inspector.ml.patchcore import feature_dim, global_dim
from inspector.ml.pixels import AS_CAPTURED, check_exposure
from inspector.ml.retrieval import check_density_weight

FORMAT_VERSION = 1
KIND = "patchcore"
BACKBONES = {f"efficientnet_{variant}": variant for variant in VARIANTS}
BANK_FILE = "memory_bank.pt"
GLOBAL_BANK_FILE = "global_bank.pt"
HEAD_FILE = "localisation_head.pt"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, eq=False)
class ModelPackage:
    """An anomaly model: its metadata plus its memory bank, in memory.

    Built by fitting (then ``version`` is ``"unsaved"`` and ``path`` is
    ``None``) or by :func:`load_package`. :func:`save_package` sets
    ``version``, ``created_at``, ``files`` and ``path``.

    Attributes:
        name: Short model name, the first part of ``version``.
        memory_bank: ``(M, D)`` float32 good-patch features on the CPU.
        backbone_sha256: SHA-256 of the backbone weights file the bank was made with.
        layers: Backbone stages the patch features come from.
        input_size: Side of the square images are resized to.
        mean: Per-channel normalisation mean.
        std: Per-channel normalisation standard deviation.
        sigma: Map smoothing in input pixels.
        threshold: Default image-score threshold, for ``decision`` to start from.
        training: Training data summary (count, source, image sizes, ...).
        metrics: Validation results (held-out good score statistics, ...).
        version: ``<name>-<yyyymmdd>-<hash8>``, recorded with every inspection.
        created_at: ISO-8601 UTC time the package was saved.
        files: SHA-256 of each data file in the package directory.
        path: Package directory, when it came from or went to disk.
        score_top_fraction: Image score = mean of this share of the map's
            highest values; 0 (older packages) = the map's maximum.
        backbone_variant: EfficientNet-Lite member (``"lite0"``, ``"lite1"``, ``"lite2"``).
        global_stage: Stage of the image-level branch, ``None`` for patch-only models.
        global_bank: ``(G, 2 C)`` float32 descriptors of good images for that branch.
        normalisation: Branch score normalisation (required with an image-level branch).
        global_grid: Cells per side of the image-level descriptor (1: pooled whole).
        retrieval_k: Good images each part's patches are compared with (0: the
            whole bank); the bank then holds the same number of rows per
            ``global_bank`` image, in its order.
        density_weight: Share of the matched gallery row's spacing taken off each
            patch distance (``retrieval.density_weight``; 0: none, as before).
        exposure: Whether images are standardised before the network sees them
            (:data:`inspector.ml.pixels.EXPOSURES`; packages before session 8: as captured).
        localisation_head: The tensors of a localisation head
            (:mod:`inspector.ml.localisation_head`), or ``None`` (packages before
            session 9, ``--synthetic-epochs 0``). It changes located maps only: an
            Inspector that does not know it scores and sorts the same.
        lighting: Brightness and contrast of the good images it was fitted on
            (:mod:`inspector.ml.lighting`), or ``None`` (packages before session 10):
            a line sends frames lit otherwise to the fail-safe bin.
    """

    name: str
    memory_bank: torch.Tensor
    backbone_sha256: str
    layers: tuple[int, ...]
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    sigma: float
    threshold: float
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    version: str = "unsaved"
    created_at: str = ""
    files: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None
    score_top_fraction: float = 0.0
    backbone_variant: str = DEFAULT_VARIANT
    global_stage: int | None = None
    global_bank: torch.Tensor | None = None
    normalisation: ScoreNormalisation | None = None
    retrieval_k: int = 0
    global_grid: int = 1
    density_weight: float = 0.0
    exposure: str = AS_CAPTURED
    localisation_head: Mapping[str, torch.Tensor] | None = None
    lighting: LightingRange | None = None

    @property
    def backbone(self) -> str:
        """The backbone's name for people and runtime packages (``efficientnet_lite2``)."""
        return f"efficientnet_{self.backbone_variant}"

    def gallery_rows_per_image(self) -> int:
        """Bank rows per good image of a retrieval model.

        Raises:
            ValueError: not a retrieval model, or its bank does not split evenly.
        """
        images = 0 if self.global_bank is None else int(self.global_bank.shape[0])
        rows = int(self.memory_bank.shape[0])
        if self.retrieval_k < 1 or images == 0 or rows % images:
            msg = (
                f"retrieval (k={self.retrieval_k}) needs the image-level bank and the same "
                f"number of memory-bank rows per good image ({rows} rows, {images} images): "
                "refit the model"
            )
            raise ValueError(msg)
        return rows // images


def check_name(name: str) -> None:
    """Refuse model names that would not make a clean version string or file name.

    Raises:
        ValueError: saying which characters are allowed.
    """
    if not _NAME.match(name):
        msg = (
            f"model name {name!r} is not usable in a version string: use 1-64 letters, "
            "digits, '.', '_' or '-', starting with a letter or digit"
        )
        raise ValueError(msg)


def save_package(
    package: ModelPackage, directory: str | Path, *, overwrite: bool = False
) -> ModelPackage:
    """Write ``package`` to ``directory`` and return it as saved.

    ``model.json`` is written last, through a temporary file and a rename, so
    a directory with a ``model.json`` always holds a complete package.

    Args:
        package: The model to save.
        directory: Package directory; created if missing.
        overwrite: Replace a package already in ``directory``.

    Raises:
        ValueError: bad name, non-finite threshold or bank, or ``directory``
            already holds a package and ``overwrite`` is false.
    """
    check_name(package.name)
    if not math.isfinite(package.threshold):
        msg = f"threshold {package.threshold} is not a finite number: calibrate it before saving"
        raise ValueError(msg)
    bank = package.memory_bank.detach().to("cpu", torch.float16).contiguous()
    if not torch.isfinite(bank).all():
        msg = "memory bank has values that do not fit float16 (inf/nan): refit the model"
        raise ValueError(msg)
    if package.global_stage is not None and (
        package.global_bank is None or package.normalisation is None
    ):
        msg = "a model with an image-level branch needs its descriptor bank and normalisation"
        raise ValueError(msg)
    if package.retrieval_k:
        package.gallery_rows_per_image()
    check_density_weight(package.density_weight, package.retrieval_k)
    check_exposure(package.exposure)
    folder = Path(directory)
    if (folder / METADATA_FILE).exists() and not overwrite:
        msg = f"{folder} already holds a model package: choose another folder or overwrite it"
        raise ValueError(msg)
    folder.mkdir(parents=True, exist_ok=True)

    contents = {BANK_FILE: _tensor_file("memory_bank", bank)}
    if package.global_bank is not None:
        global_bank = package.global_bank.detach().to("cpu", torch.float32).contiguous()
        contents[GLOBAL_BANK_FILE] = _tensor_file("global_bank", global_bank)
    if package.localisation_head is not None:
        head = {k: v.detach().to("cpu").contiguous() for k, v in package.localisation_head.items()}
        contents[HEAD_FILE] = _tensors_file(head)
    files = {name: sha256(data) for name, data in contents.items()}
    identity = sha256("".join(files[name] for name in sorted(files)).encode())
    if len(files) == 1:  # patch-only packages keep the version their bank has always given
        identity = files[BANK_FILE]
    created = datetime.now(UTC).replace(microsecond=0)
    saved = replace(
        package,
        memory_bank=bank.float(),
        version=f"{package.name}-{created:%Y%m%d}-{identity[:8]}",
        created_at=created.isoformat(),
        files=files,
        path=folder,
    )
    metadata = {
        "format_version": anomaly_format_version(saved.exposure, FORMAT_VERSION),
        "kind": KIND,
        "name": saved.name,
        "version": saved.version,
        "created_at": saved.created_at,
        "backbone": saved.backbone,
        "backbone_sha256": saved.backbone_sha256,
        "layers": list(saved.layers),
        "input_size": saved.input_size,
        "mean": list(saved.mean),
        "std": list(saved.std),
        **({"exposure": saved.exposure} if saved.exposure != AS_CAPTURED else {}),
        "sigma": saved.sigma,
        "score_top_fraction": saved.score_top_fraction,
        "threshold": saved.threshold,
        "bank_size": int(bank.shape[0]),
        "feature_dim": int(bank.shape[1]),
        "training": dict(saved.training),
        "metrics": dict(saved.metrics),
        "files": dict(saved.files),
    }
    if saved.global_bank is not None and saved.normalisation is not None:
        metadata["global_branch"] = {
            "stage": saved.global_stage,
            "descriptor": descriptor_name(saved.global_grid),
            "bank_size": int(saved.global_bank.shape[0]),
        }
        metadata["score_normalisation"] = saved.normalisation._asdict()
    if saved.retrieval_k:
        metadata["retrieval"] = {
            "k": saved.retrieval_k,
            "rows_per_image": saved.gallery_rows_per_image(),
        }
        if saved.density_weight:
            metadata["retrieval"]["density_weight"] = saved.density_weight
    if saved.localisation_head is not None:
        metadata["localisation_head"] = {"file": HEAD_FILE, "adds_to": "localisation maps"}
    if saved.lighting is not None:
        metadata["lighting"] = saved.lighting.as_json()
    text = json.dumps(metadata, indent=2, allow_nan=False) + "\n"
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    temporary = folder / (METADATA_FILE + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(folder / METADATA_FILE)
    return saved


def _tensor_file(key: str, tensor: torch.Tensor) -> bytes:
    return _tensors_file({key: tensor})


def _tensors_file(tensors: Mapping[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(dict(tensors), buffer)
    return buffer.getvalue()


def _load_plain(data: bytes, path: Path) -> object:
    """Unpickle tensors only (``weights_only``): anything else is refused, never run."""
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError... all mean "refused"
        problem = f"is not a plain tensor file and was not loaded ({type(exc).__name__})"
        raise _fail(path, f"{problem}: it may be damaged or unsafe; refit the model") from exc


_READER = PackageReader("model package file", "re-export the model")
_fail = _READER.fail
_field = _READER.field


def _read_metadata(folder: Path) -> dict[str, Any]:
    meta = _READER.metadata(folder)
    file = folder / METADATA_FILE
    problem = check_anomaly_format(meta, FORMAT_VERSION)
    if problem is not None:
        raise _fail(file, f"{problem}, or refit")
    if meta.get("kind") != KIND or meta.get("backbone") not in BACKBONES:
        problem = (
            f"is a {meta.get('kind')!r} model on {meta.get('backbone')!r}, expected {KIND!r} "
            f"on one of {', '.join(BACKBONES)}: load it with the matching model type"
        )
        raise _fail(file, problem)
    return meta


def _read_bank(data: bytes, path: Path, key: str = "memory_bank") -> torch.Tensor:
    """The 2-D float tensor ``key`` of a plain tensor file (:func:`_load_plain`)."""
    content = _load_plain(data, path)
    bank = content.get(key) if isinstance(content, dict) else None
    if not isinstance(bank, torch.Tensor) or not bank.is_floating_point() or bank.ndim != 2:
        raise _fail(path, f"does not hold a 2-D float tensor '{key}': refit the model")
    return bank.float()


def _read_global_branch(
    meta: Mapping[str, Any], contents: Mapping[str, bytes], folder: Path, variant: str
) -> tuple[int | None, torch.Tensor | None, ScoreNormalisation | None, int]:
    """The image-level branch's stage, descriptor bank, normalisation and grid, if any."""
    branch = meta.get("global_branch")
    if branch is None:
        return None, None, None, 1
    file = folder / METADATA_FILE
    stage = branch.get("stage") if isinstance(branch, dict) else None
    if not isinstance(stage, int) or isinstance(stage, bool) or not 0 <= stage < len(STAGES):
        raise _fail(file, f"'global_branch' is {branch!r}, expected a stage 0..6: refit")
    grid = grid_of(branch.get("descriptor"))
    if grid is None or GLOBAL_BANK_FILE not in contents:
        problem = (
            f"'global_branch' has descriptor {branch.get('descriptor')!r}, expected 'mean+std' "
            f"or 'gridN-mean+std', and needs {GLOBAL_BANK_FILE}"
        )
        raise _fail(file, f"{problem}: refit the model with this Inspector version")
    norm = meta.get("score_normalisation")
    fields = ScoreNormalisation._fields
    if not isinstance(norm, dict) or set(norm) != set(fields):
        raise _fail(file, f"'score_normalisation' is {norm!r}, expected the keys {fields}")
    values = [norm[k] for k in fields]
    if (
        not all(isinstance(v, int | float) and math.isfinite(v) for v in values)
        or min(values[1], values[3]) <= 0
    ):
        raise _fail(file, f"'score_normalisation' is {norm!r}: scales must be positive numbers")
    path = folder / GLOBAL_BANK_FILE
    bank = _read_bank(contents[GLOBAL_BANK_FILE], path, "global_bank")
    if bank.shape[1] != global_dim(stage, variant, grid) or bank.shape[0] < 2:
        problem = f"holds descriptors of shape {tuple(bank.shape)}, which stage {stage} cannot give"
        raise _fail(path, f"{problem}: refit the model")
    return stage, bank, ScoreNormalisation(*(float(v) for v in values)), grid


def load_package(directory: str | Path) -> ModelPackage:
    """Read and check a model package; never runs code from it.

    Raises:
        ModelPackageError: the directory or a file is missing, ``model.json``
            is not valid JSON or lacks a field, the package is of another kind
            or format version, a file's SHA-256 differs from ``model.json``, or
            ``memory_bank.pt`` is not plain tensors or does not fit the layers.
            The message names the file and what is wrong.
    """
    folder = Path(directory)
    meta = _read_metadata(folder)
    file = folder / METADATA_FILE
    layers = tuple(_field(meta, "layers", list, file))
    if not layers or not all(isinstance(s, int) and 0 <= s < len(STAGES) for s in layers):
        raise _fail(file, f"'layers' is {list(layers)!r}, expected backbone stages 0..6")
    input_size = _field(meta, "input_size", int, file)
    threshold = float(_field(meta, "threshold", (int, float), file))
    sigma = float(_field(meta, "sigma", (int, float), file))
    top = meta.get("score_top_fraction", 0.0)  # absent in packages that scored by the maximum
    if not isinstance(top, int | float) or isinstance(top, bool) or not 0 <= top < 1:
        raise _fail(file, f"'score_top_fraction' is {top!r}, expected a number in [0, 1)")
    if input_size < 16 or not math.isfinite(threshold) or not sigma >= 0:
        raise _fail(file, "'input_size', 'threshold' or 'sigma' is out of range")
    mean = _READER.numbers(meta, "mean", 3, file)
    std = _READER.numbers(meta, "std", 3, file)
    if not all(v > 0 for v in std):
        raise _fail(file, f"'std' is {list(std)}, expected positive numbers")
    files = _field(meta, "files", dict, file)
    contents = _READER.hashed_files(folder, files, file, required=(BANK_FILE,))
    variant = BACKBONES[meta["backbone"]]
    bank = _read_bank(contents[BANK_FILE], folder / BANK_FILE)
    global_stage, global_bank, normalisation, grid = _read_global_branch(
        meta, contents, folder, variant
    )
    expected_dim = feature_dim(layers, variant)
    if bank.shape[1] != expected_dim or bank.shape[0] == 0:
        problem = (
            f"holds a memory bank of shape {tuple(bank.shape)}, expected (M, {expected_dim}) "
            f"for layers {list(layers)}: refit the model"
        )
        raise _fail(folder / BANK_FILE, problem)
    retrieval_k, density_weight = _read_retrieval(meta, file, bank, global_bank)
    head = _read_head(meta, contents, folder, expected_dim)
    return ModelPackage(
        name=_field(meta, "name", str, file),
        memory_bank=bank,
        backbone_sha256=_field(meta, "backbone_sha256", str, file),
        layers=layers,
        input_size=input_size,
        mean=mean,
        std=std,
        sigma=sigma,
        threshold=threshold,
        training=meta.get("training") or {},
        metrics=meta.get("metrics") or {},
        version=_field(meta, "version", str, file),
        created_at=str(meta.get("created_at", "")),
        files=dict(files),
        path=folder,
        score_top_fraction=float(top),
        backbone_variant=variant,
        global_stage=global_stage,
        global_bank=global_bank,
        normalisation=normalisation,
        retrieval_k=retrieval_k,
        global_grid=grid,
        density_weight=density_weight,
        exposure=meta.get("exposure", AS_CAPTURED),  # checked with the format version
        localisation_head=head,
        lighting=lighting_entry(meta, lambda problem: _fail(file, problem)),
    )


def _read_head(
    meta: Mapping[str, Any], contents: Mapping[str, bytes], folder: Path, dim: int
) -> dict[str, torch.Tensor] | None:
    """The localisation head's tensors, checked against the patch features; ``None`` without."""
    if meta.get("localisation_head") is None:
        return None
    path = folder / HEAD_FILE
    if HEAD_FILE not in contents:
        raise _fail(folder / METADATA_FILE, f"'localisation_head' needs {HEAD_FILE}: refit")
    state = _load_plain(contents[HEAD_FILE], path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _fail(path, "does not hold the head's named tensors: refit the model")
    try:
        head_from_state(state, dim)
    except ValueError as exc:
        raise _fail(path, str(exc)) from exc
    return state


def _read_retrieval(
    meta: Mapping[str, Any], file: Path, bank: torch.Tensor, global_bank: torch.Tensor | None
) -> tuple[int, float]:
    """A retrieval model's ``k`` (its gallery checked against the image-level bank) and
    density weight; 0 and 0 for other models."""
    retrieval = meta.get("retrieval")
    if retrieval is None:
        return 0, 0.0
    k = retrieval.get("k") if isinstance(retrieval, dict) else None
    rows = retrieval.get("rows_per_image") if isinstance(retrieval, dict) else None
    valid = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (k, rows))
    if not valid or global_bank is None:
        problem = f"'retrieval' is {retrieval!r}, expected positive 'k' and 'rows_per_image'"
        raise _fail(file, f"{problem} with an image-level branch: refit the model")
    if bank.shape[0] != rows * global_bank.shape[0]:
        problem = (
            f"'retrieval' says {rows} bank rows per good image, but the memory bank has "
            f"{bank.shape[0]} rows for {global_bank.shape[0]} images"
        )
        raise _fail(file, f"{problem}: refit the model")
    weight = retrieval.get("density_weight", 0.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise _fail(
            file, f"'retrieval' density_weight {weight!r} is not in [0, 1]: refit the model"
        )
    return int(k), float(weight)
