"""An INT8 runtime package: quantised backbone, memory rebuilt from its features.

The steps: export and verify the fp32 runtime package as always; export the
backbone's feature graph and quantise it, calibrated on good parts; rebuild
the memory banks, normalisation and threshold from the quantised features
(:mod:`inspector.training.int8_refit`); export the float32 scoring graph with
the rebuilt constants and join the two into one network with the fp32
package's interface. The joined network is checked against the rebuilt model
scored in torch before it is returned. Whether it is good enough is the
caller's question (``inspector export --int8`` measures both on labelled
images and refuses a loss).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from inspector.acquisition.image_files import read_image
from inspector.core.errors import ModelPackageError
from inspector.ml.inferencer import build_patchcore
from inspector.ml.onnx_export import SCORE_TOLERANCE, bank_as_stored, branches_of, export_onnx
from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer
from inspector.ml.onnx_quantize import (
    FeatureRunner,
    Int8Recipe,
    check_calibration,
    join_graphs,
    quantize_features,
)
from inspector.ml.onnx_split import feature_graph, scoring_graph
from inspector.ml.package import load_package
from inspector.ml.runtime_package import RuntimePackage
from inspector.training.int8_refit import Progress, refit_on_features

CALIBRATION_IMAGES = 64
"""Good images the activation ranges are taken on (spread over the folder)."""


def spread(items: Sequence[Path], most: int) -> list[Path]:
    """Up to ``most`` of ``items``, evenly spaced, so a sorted folder is sampled throughout."""
    if len(items) <= most:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, most).round().astype(int)]


def _relative_difference(reference: Sequence[float], other: Sequence[float]) -> float:
    """Largest difference over the largest reference score (z-scores of good parts sit near 0)."""
    ref, oth = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    return float(np.max(np.abs(oth - ref)) / max(float(np.max(np.abs(ref))), 1e-12))


def export_int8(
    model_dir: str | Path,
    good: Sequence[Path],
    *,
    opset: int,
    calibration_images: int = CALIBRATION_IMAGES,
    recipe: Int8Recipe = Int8Recipe(),  # noqa: B008 - frozen, so sharing the default is safe
    threads: int | None = None,
    progress: Progress | None = None,
) -> tuple[RuntimePackage, RuntimePackage]:
    """The fp32 runtime package of ``model_dir`` and its INT8 counterpart, not yet saved.

    Args:
        model_dir: A PatchCore model package.
        good: Good-part image files: all of them rebuild the memory (the
            model's training images are best), ``calibration_images`` of them
            set the activation ranges.
        opset: ONNX opset of both networks.
        calibration_images: Most images for the activation ranges (>= 8).
        recipe: How the backbone is quantised.
        threads: ONNX Runtime threads for the feature passes.
        progress: Called as ``progress(stage, done, total)``.

    Raises:
        ValueError: too few good images.
        ModelPackageError: the source does not load, or an exported network
            does not reproduce what it was made from.
        InspectorError: the ``onnx`` extra is missing.
    """
    calibration = [read_image(file) for file in spread(good, calibration_images)]
    check_calibration(calibration)
    with tempfile.TemporaryDirectory(prefix="inspector-fp32-") as tmp:
        fp32 = export_onnx(model_dir, Path(tmp) / "fp32", opset=opset)
    source = load_package(model_dir)
    size, mean, std = source.input_size, source.mean, source.std
    features = feature_graph(build_patchcore(source), size, opset)
    exposure = source.exposure
    batches = FeatureRunner(features, size, mean, std, threads, exposure).batches(calibration)
    int8_features = quantize_features(features, batches, recipe)
    runner = FeatureRunner(int8_features, size, mean, std, threads, exposure)
    refit = refit_on_features(source, runner, good, progress=progress)
    rebuilt = refit.package
    scoring = scoring_graph(refit.model, size, opset)
    int8 = replace(
        fp32,
        version=f"{fp32.version}-int8",
        network=join_graphs(int8_features, scoring),
        memory_bank=bank_as_stored(rebuilt.memory_bank),
        threshold=rebuilt.threshold,
        branches=branches_of(rebuilt),
        quantization={
            "kind": "int8-static",
            **recipe.as_dict(),
            "calibration_images": len(calibration),
            "fp32_version": fp32.version,
            "rebuilt_from_int8_features": refit.summary,
        },
        path=None,
        files={},
    )
    got = [
        o.score for o in OnnxAnomalyInferencer(int8, threads=threads).predict(refit.check_images)
    ]
    difference = _relative_difference(refit.check_scores, got)
    if not difference <= SCORE_TOLERANCE:
        msg = (
            f"the joined INT8 network's scores differ from the rebuilt model's by up to "
            f"{difference:.3g} of the largest score (the limit is {SCORE_TOLERANCE:g}): report this"
        )
        raise ModelPackageError(msg)
    check = {
        "images": len(got),
        "max_score_difference_relative_to_largest": difference,
        "against": "the rebuilt model scored in torch on the same INT8 features",
    }
    return fp32, replace(int8, export_check=check)
