"""The model's good-part memory rebuilt in the INT8 network's own feature space.

An INT8 backbone does not compute the fp32 backbone's features: every good
patch lands a little off, and against the fp32 memory bank a good part then
scores like a defect (magnetic-tile, Lite0: false rejects 0.7 % -> 42.6 %,
image AUROC 0.964 -> 0.782). So the INT8 package gets its own memory: the good
images go through the quantised feature graph and the steps of
:func:`~inspector.training.fit_anomaly.fit_anomaly` are repeated on what comes
out (coreset bank of the same size, image-level bank, branch normalisation,
threshold by the same rule), so INT8 compares INT8 with INT8. The scoring after
the features is the fp32 model's own code (:class:`~inspector.ml.onnx_export.
ExportablePatchCore`), run in torch here and exported for the line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inspector.acquisition.image_files import read_image
from inspector.ml.coreset import greedy_coreset
from inspector.ml.inferencer import build_patchcore
from inspector.ml.onnx_export import ExportablePatchCore
from inspector.ml.onnx_quantize import Features
from inspector.ml.package import ModelPackage
from inspector.ml.patchcore import PatchCore
from inspector.ml.retrieval import gallery_rows
from inspector.training.calibration import branch_calibration, calibrate_threshold

HOLDOUT_FRACTION = 0.2
"""Share of the good images held out to normalise and calibrate (the fit's default)."""
BATCH = 8
CHECK_IMAGES = 4
"""Held-out images whose scores the joined INT8 network must reproduce."""

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Refit:
    """A source package with its memory rebuilt from INT8 features.

    Attributes:
        package: The source with the new patch bank, image-level bank,
            normalisation and threshold (backbone and settings unchanged).
        model: ``package``'s PatchCore, built once for the check and the export.
        check_images: A few held-out good images, and ...
        check_scores: ... their image scores under ``package`` (INT8 features,
            torch scoring), which the exported INT8 network must reproduce.
        summary: What was rebuilt from what, for ``model.json``.
    """

    package: ModelPackage
    model: PatchCore
    check_images: list[np.ndarray]
    check_scores: list[float]
    summary: dict[str, Any]


def target_false_reject(source: ModelPackage) -> float | None:
    """The false-reject target the source's threshold was set for, read from its metrics.

    ``None`` means the held-out maximum rule (what the fit does without a target).
    """
    rule = str(source.metrics.get("threshold_rule", ""))
    match = re.match(r"([0-9.]+) quantile of", rule)
    return None if match is None else round(1.0 - float(match.group(1)), 6)


def _load(items: Sequence[Path | np.ndarray]) -> list[np.ndarray]:
    return [read_image(item) if isinstance(item, Path) else item for item in items]


def _embed(
    features: Features, items: Sequence[Path | np.ndarray], report: Progress, stage: str
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Patch features as rows ``(P, D)`` and descriptors ``(N, 2 C)`` of ``items``."""
    rows, described = [], []
    for start in range(0, len(items), BATCH):
        maps, descriptors = features(_load(items[start : start + BATCH]))
        rows.append(torch.from_numpy(maps).permute(0, 2, 3, 1).reshape(-1, maps.shape[1]))
        if descriptors is not None:
            described.append(torch.from_numpy(descriptors))
        report(stage, min(start + BATCH, len(items)), len(items))
    return torch.cat(rows), torch.cat(described) if described else None


def refit_on_features(
    source: ModelPackage,
    features: Features,
    good: Sequence[Path | np.ndarray],
    *,
    progress: Progress | None = None,
) -> Refit:
    """Rebuild ``source``'s memory from the features ``features`` computes on ``good``.

    Args:
        source: The fitted (fp32) model package.
        features: Camera images in, the quantised graph's patch features
            ``(N, D, h, w)`` and descriptors out.
        good: Good-part images or files (the model's training images are best).
        progress: Called as ``progress(stage, done, total)``.

    Raises:
        ValueError: too few good images for a held-out set.
    """
    report = progress or (lambda stage, done, total: None)
    seed = int(source.training.get("seed", 0))
    order = np.random.default_rng(seed).permutation(len(good))
    n_holdout = max(2, round(HOLDOUT_FRACTION * len(good)))
    if len(good) - n_holdout < 4:
        msg = f"rebuilding the memory bank needs at least 6 good images, got {len(good)}"
        raise ValueError(msg)
    holdout = [good[i] for i in order[:n_holdout]]
    train = [good[i] for i in order[n_holdout:]]
    patches, descriptors = _embed(features, train, report, "features")
    has_global = source.global_stage is not None and descriptors is not None
    if source.retrieval_k > 0 and has_global:
        package = _retrieval_refit(source, features, patches, descriptors, holdout, report)
    else:
        package = _coreset_refit(source, features, patches, descriptors, holdout, report)
    summary = {
        "images": len(good),
        "bank_images": len(train) + (len(holdout) if source.retrieval_k else 0),
        "holdout_images": len(holdout),
        "seed": seed,
        "bank_size": int(package.memory_bank.shape[0]),
        "global_bank_size": int(package.global_bank.shape[0]) if has_global else 0,
        "target_false_reject": target_false_reject(source),
        "threshold_fp32": source.threshold,
        "threshold": package.threshold,
    }
    check = _load(holdout[: min(CHECK_IMAGES, len(holdout))])
    model = build_patchcore(package)
    return Refit(package, model, check, _scores(package, model, features(check)), summary)


def as_stored(bank: torch.Tensor) -> torch.Tensor:
    """The bank rounded to float16, as packages store it (half the file), so the
    threshold and the export's score check see exactly the bank the line will use."""
    return bank.to(torch.float16).float().contiguous()


def _coreset_refit(
    source: ModelPackage,
    features: Features,
    patches: torch.Tensor,
    descriptors: torch.Tensor | None,
    holdout: Sequence[Path | np.ndarray],
    report: Progress,
) -> ModelPackage:
    """The fit's coreset path: bank from the training images, held-out ones calibrate."""
    seed = int(source.training.get("seed", 0))
    size = int(source.memory_bank.shape[0])
    chosen = greedy_coreset(patches, size, seed=seed, progress=lambda d, t: report("coreset", d, t))
    bank = as_stored(patches[chosen])
    has_global = source.global_stage is not None and descriptors is not None
    package = replace(
        source,
        memory_bank=bank,
        global_bank=descriptors if has_global else None,
        normalisation=None,
        threshold=math.nan,
    )
    model = build_patchcore(package)
    scoring = ExportablePatchCore(model, source.input_size)
    patch_scores: list[float] = []
    global_scores: list[float] = []
    held_out: list[torch.Tensor] = []
    with torch.inference_mode():
        for start in range(0, len(holdout), BATCH):
            maps, described = features(_load(holdout[start : start + BATCH]))
            query = torch.from_numpy(described) if has_global and described is not None else None
            output = scoring.branch_outputs(torch.from_numpy(maps), query, bank)
            patch_scores += output.patch_scores.tolist()
            if query is not None:
                global_scores += output.global_scores.tolist()
                held_out.append(query)
            report("calibrate", min(start + BATCH, len(holdout)), len(holdout))
        target = target_false_reject(source)
        if not has_global:
            return replace(package, threshold=calibrate_threshold(patch_scores, target))
        loo = model.global_leave_one_out().tolist()
    return _normalised(
        replace(package, global_bank=torch.cat([package.global_bank, *held_out])),
        list(zip(patch_scores, global_scores, strict=True)),
        loo,
        target,
    )


def _retrieval_refit(
    source: ModelPackage,
    features: Features,
    patches: torch.Tensor,
    descriptors: torch.Tensor,
    holdout: Sequence[Path | np.ndarray],
    report: Progress,
) -> ModelPackage:
    """The fit's retrieval path: held-out images join both banks first, and each is then
    scored against all the other good images (never itself), as a new part will be."""
    seed = int(source.training.get("seed", 0))
    per_image = source.gallery_rows_per_image()
    held_patches, held_descriptors = _embed(features, holdout, report, "features")
    n_fit = len(descriptors)
    galleries = [
        gallery_rows(rows.view(len(images), -1, rows.shape[1]), per_image, seed=seed)
        for rows, images in ((patches, descriptors), (held_patches, held_descriptors))
    ]
    bank = as_stored(torch.cat(galleries))
    package = replace(
        source,
        memory_bank=bank,
        global_bank=torch.cat([descriptors, held_descriptors]),
        normalisation=None,
        threshold=math.nan,
    )
    model = build_patchcore(package)
    scoring = ExportablePatchCore(model, source.input_size)
    cells = held_patches.shape[0] // len(held_descriptors)
    side = round(math.sqrt(cells))
    branches: list[tuple[float, float]] = []
    with torch.inference_mode():
        for start in range(0, len(held_descriptors), BATCH):
            query = held_descriptors[start : start + BATCH]
            n = len(query)
            maps = held_patches[start * cells : (start + n) * cells]
            maps = maps.view(n, side, side, -1).permute(0, 3, 1, 2)
            itself = torch.arange(n_fit + start, n_fit + start + n)
            output = scoring.branch_outputs(maps, query, bank, exclude=itself)
            patch, others = output.patch_scores.tolist(), output.global_scores.tolist()
            branches += zip(patch, others, strict=True)
            report("calibrate", start + n, len(held_descriptors))
        loo = model.global_leave_one_out()[:n_fit].tolist()
    return _normalised(package, branches, loo, target_false_reject(source))


def _normalised(
    package: ModelPackage,
    branches: list[tuple[float, float]],
    loo: list[float],
    target: float | None,
) -> ModelPackage:
    """``package`` with the branches' normalisation and the threshold set as the fit sets them."""
    norm, _, calibration = branch_calibration(branches, loo)
    return replace(package, normalisation=norm, threshold=calibrate_threshold(calibration, target))


def _scores(
    package: ModelPackage, model: PatchCore, outputs: tuple[np.ndarray, np.ndarray | None]
) -> list[float]:
    """Image scores of the rebuilt ``package`` (``model``) on given backbone outputs, in torch."""
    maps, descriptors = (None if a is None else torch.from_numpy(a) for a in outputs)
    scoring = ExportablePatchCore(model, package.input_size)
    with torch.inference_mode():
        return scoring.score_features(maps, descriptors, package.memory_bank)[0].tolist()
