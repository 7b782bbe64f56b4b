"""Image scores as the mean of a map's highest values, and packages that carry the choice."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from inspector.core.errors import ModelPackageError
from inspector.ml.efficientnet_lite import EfficientNetLite0
from inspector.ml.package import METADATA_FILE, ModelPackage, load_package, save_package
from inspector.ml.patchcore import PatchCore
from inspector.pipeline.line import DEFAULT_MODEL_DIR


def _maps() -> torch.Tensor:
    # Two 10 x 10 maps holding 0..99; the second also has one outlier of 1000.
    first = torch.arange(100, dtype=torch.float32).view(10, 10)
    second = first.clone()
    second[0, 0] = 1000.0
    return torch.stack([first, second])


def test_score_is_the_maximum_by_default():
    model = PatchCore(EfficientNetLite0())
    assert model.image_scores(_maps()).tolist() == [99.0, 1000.0]


def test_score_is_the_mean_of_the_top_fraction():
    model = PatchCore(EfficientNetLite0(), score_top_fraction=0.05)
    # Top 5 of 100 cells: 95..99 -> 97; with the outlier: 1000, 99, 98, 97, 96 -> 278.
    assert model.image_scores(_maps()).tolist() == pytest.approx([97.0, 278.0])


def test_score_top_fraction_out_of_range_is_refused():
    with pytest.raises(ValueError, match="score_top_fraction"):
        PatchCore(EfficientNetLite0(), score_top_fraction=1.0)


def _package() -> ModelPackage:
    return ModelPackage(
        name="part-b",
        memory_bank=torch.ones(8, 152),
        backbone_sha256="cd" * 32,
        layers=(2, 4),
        input_size=224,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        sigma=4.0,
        threshold=3.0,
        score_top_fraction=0.01,
    )


def test_package_round_trips_the_score_top_fraction(tmp_path: Path):
    save_package(_package(), tmp_path / "pkg")
    assert load_package(tmp_path / "pkg").score_top_fraction == 0.01


def test_packages_without_the_field_score_by_the_maximum():
    assert "score_top_fraction" not in json.loads((DEFAULT_MODEL_DIR / METADATA_FILE).read_text())
    assert load_package(DEFAULT_MODEL_DIR).score_top_fraction == 0.0


def test_a_bad_score_top_fraction_names_the_field(tmp_path: Path):
    save_package(replace(_package(), score_top_fraction=0.0), tmp_path / "pkg")
    file = tmp_path / "pkg" / METADATA_FILE
    meta = json.loads(file.read_text())
    meta["score_top_fraction"] = 2
    file.write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match="score_top_fraction"):
        load_package(tmp_path / "pkg")
