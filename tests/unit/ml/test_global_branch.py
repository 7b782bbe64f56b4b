"""The image-level branch of PatchCore: descriptors, normalisation, package, fitting."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from inspector.core.errors import ModelPackageError
from inspector.ml.anomaly_result import ScoreNormalisation
from inspector.ml.efficientnet_lite import EfficientNetLite0
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.package import GLOBAL_BANK_FILE, METADATA_FILE, load_package, save_package
from inspector.ml.patchcore import PatchCore, global_dim
from inspector.training.calibration import branch_calibration, normalisation_of
from inspector.training.fit_anomaly import FitResult, fit_anomaly
from tests.unit.ml.synthetic_parts import SIZE, textured_part, with_blob


@pytest.fixture(scope="module")
def fitted_global(tmp_path_factory: pytest.TempPathFactory) -> FitResult:
    """A small two-branch fit on synthetic parts (a few seconds on 2 CPU cores)."""
    goods = [textured_part(seed) for seed in range(24)]
    out: Path = tmp_path_factory.mktemp("fit-global") / "model"
    return fit_anomaly(
        goods, out, input_size=SIZE, bank_size=500, device="cpu", name="two", global_stage=5
    )


def _dimmed_band(image: np.ndarray) -> np.ndarray:
    """A tile whose lower half is darker: no single patch is odd, the whole is."""
    out = image.astype(np.float32)
    out[SIZE // 2 :] *= 0.4
    return out.clip(0, 255).astype(np.uint8)


def test_descriptors_are_mean_and_spread_of_the_deep_stage() -> None:
    model = PatchCore(EfficientNetLite0().eval(), global_stage=5)
    x = torch.randn(2, 3, 64, 64)
    features, descriptors = model.embed_all(x)
    deep = model.backbone.features(x, [5])[0]
    assert descriptors.shape == (2, global_dim(5)) == (2, 384)
    torch.testing.assert_close(descriptors[:, :192], deep.mean(dim=(2, 3)))
    torch.testing.assert_close(descriptors[:, 192:], deep.std(dim=(2, 3)))
    assert features.shape == model.embed(x).shape


def test_an_image_in_the_bank_is_at_distance_zero_and_others_are_not() -> None:
    model = PatchCore(EfficientNetLite0().eval(), global_stage=5)
    bank = torch.randn(5, 384, generator=torch.Generator().manual_seed(0)) * 3 + 1
    model.set_global_bank(bank)
    distances = model.global_distance(torch.cat([bank[2:3], bank[2:3] + 1.0]))
    # |a|^2 - 2ab + |b|^2 in float32 leaves ~1e-4 of |a|^2 = 384: a distance of ~0.01
    assert distances[0] < 0.05
    assert distances[1] > 1.0


def test_a_bank_of_the_wrong_shape_is_refused() -> None:
    model = PatchCore(EfficientNetLite0().eval(), global_stage=5)
    with pytest.raises(ValueError, match=r"expected \(G, 384\)"):
        model.set_global_bank(torch.zeros(4, 100))
    with pytest.raises(ValueError, match="at least 2"):
        model.set_global_bank(torch.zeros(1, 384))
    with pytest.raises(ValueError, match="no image-level branch"):
        PatchCore(EfficientNetLite0().eval()).set_global_bank(torch.zeros(4, 384))


def test_score_is_the_larger_normalised_branch(fitted_global: FitResult) -> None:
    package = load_package(fitted_global.package_dir)
    inferencer = AnomalyInferencer(package, device="cpu")
    images = [textured_part(300), _dimmed_band(textured_part(301))]
    outputs = inferencer.predict(images)
    raw = AnomalyInferencer(replace(package, normalisation=None), device="cpu")
    norm = package.normalisation
    for output, (patch, glob, _) in zip(outputs, raw.branch_scores(images), strict=True):
        expected = max(
            (patch - norm.patch_centre) / norm.patch_scale,
            (glob - norm.global_centre) / norm.global_scale,
        )
        assert output.score == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_fitted_package_has_both_branches_and_catches_a_dimmed_band(
    fitted_global: FitResult,
) -> None:
    package = load_package(fitted_global.package_dir)
    assert package.global_stage == 5
    assert package.global_bank.shape == (24, 384)  # 19 fitted + 5 held out
    assert package.normalisation.patch_scale > 0 and package.normalisation.global_scale > 0
    meta = json.loads((fitted_global.package_dir / METADATA_FILE).read_text())
    assert meta["global_branch"] == {"stage": 5, "descriptor": "mean+std", "bank_size": 24}
    inferencer = AnomalyInferencer(package, device="cpu")
    goods = inferencer.predict([textured_part(seed) for seed in range(400, 406)])
    band, blob = inferencer.predict(
        [_dimmed_band(textured_part(410)), with_blob(textured_part(411), (40, 80), 8)]
    )
    assert sum(good.score < fitted_global.threshold for good in goods) >= 5
    assert band.score > fitted_global.threshold
    assert blob.score > fitted_global.threshold


def test_normalisation_is_mean_and_spread_with_a_floor() -> None:
    norm = normalisation_of([(10.0, 2.0), (12.0, 2.0), (14.0, 2.0)])
    assert norm == ScoreNormalisation(12.0, 2.0, 2.0, pytest.approx(0.1))
    with_loo = normalisation_of([(10.0, 2.0), (14.0, 4.0)], global_extra=[3.0, 5.0, 1.0])
    assert with_loo.global_centre == pytest.approx(3.0)
    assert with_loo.global_scale == pytest.approx(np.std([2, 4, 3, 5, 1], ddof=1))


def test_branch_calibration_scores_the_larger_branch_and_adds_the_leave_one_out() -> None:
    # Patch 10 and 14 (centre 12, scale 2.83); image-level 2, 4 and LOO 3 (centre 3, scale 1).
    norm, scores, calibration = branch_calibration([(10.0, 2.0), (14.0, 4.0)], [3.0])
    assert (norm.patch_centre, norm.global_centre, norm.global_scale) == (12.0, 3.0, 1.0)
    half = 2.0 / np.std([10, 14], ddof=1)
    assert scores == pytest.approx([max(-half, -1.0), max(half, 1.0)])
    assert calibration == pytest.approx([*scores, 0.0])


def test_a_changed_descriptor_file_is_refused(fitted_global: FitResult, tmp_path: Path) -> None:
    copy = save_package(load_package(fitted_global.package_dir), tmp_path / "copy")
    path = copy.path / GLOBAL_BANK_FILE
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match="SHA-256"):
        load_package(copy.path)


def test_a_branch_without_normalisation_is_refused(
    fitted_global: FitResult, tmp_path: Path
) -> None:
    copy = save_package(load_package(fitted_global.package_dir), tmp_path / "copy")
    meta_file = copy.path / METADATA_FILE
    meta = json.loads(meta_file.read_text())
    del meta["score_normalisation"]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match="score_normalisation"):
        load_package(copy.path)


def test_patch_only_packages_load_as_before(fitted: FitResult) -> None:
    package = load_package(fitted.package_dir)
    assert package.global_stage is None and package.global_bank is None
    assert package.normalisation is None
    assert "global_branch" not in json.loads((fitted.package_dir / METADATA_FILE).read_text())
