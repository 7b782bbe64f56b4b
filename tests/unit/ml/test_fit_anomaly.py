"""Fitting an anomaly model on synthetic good parts, and its data errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.core.errors import SourceError
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.lighting import LightingRange, grey_levels
from inspector.ml.package import load_package
from inspector.training.calibration import MARGIN_MIN, MARGIN_STD, calibrate_threshold
from inspector.training.fit_anomaly import FitResult, fit_anomaly
from tests.unit.ml.synthetic_parts import textured_part, with_blob


def test_package_is_saved_and_reloadable(fitted: FitResult) -> None:
    package = load_package(fitted.package_dir)
    assert package.version == fitted.version
    assert fitted.version.startswith("synthetic-")
    assert package.threshold == fitted.threshold
    assert (fitted.n_train, fitted.n_holdout) == (19, 5)
    assert package.memory_bank.shape == (fitted.bank_size, 152)
    assert fitted.bank_size == 500
    assert package.training["count"] == 19
    assert package.training["image_sizes"] == {"128x128": 19}
    assert package.training["patches"] == 19 * 16 * 16
    assert package.metrics["holdout_good_scores"]["count"] == 5


def test_the_lighting_of_every_good_image_is_kept(
    fitted: FitResult, good_images: list[np.ndarray]
) -> None:
    lighting = load_package(fitted.package_dir).lighting
    taught = LightingRange.taught(grey_levels(image) for image in good_images)
    assert lighting == LightingRange.from_json(taught.as_json())  # stored to 0.01 grey level
    assert lighting.images == 24  # training and held-out images
    assert all(lighting.fault(image) is None for image in good_images)
    assert lighting.fault(_dimmed(good_images[0])) is not None


def test_threshold_sits_above_every_held_out_good_score(fitted: FitResult) -> None:
    stats = fitted.holdout
    assert stats.count == 5
    assert 0 < stats.min <= stats.mean <= stats.max < fitted.threshold
    margin = max(MARGIN_STD * stats.std, MARGIN_MIN * stats.max)
    assert fitted.threshold == pytest.approx(stats.max + margin)


def test_a_dark_blob_outscores_good_parts_where_it_is(fitted: FitResult) -> None:
    inferencer = AnomalyInferencer(fitted.package_dir, device="cpu")
    fresh_goods = [textured_part(seed) for seed in range(100, 106)]
    defect = with_blob(textured_part(200), centre=(40, 80), radius=8)
    *goods, bad = inferencer.predict([*fresh_goods, defect])
    assert bad.score > fitted.holdout.max
    assert bad.score > fitted.threshold
    assert bad.score > 1.3 * max(good.score for good in goods)
    assert sum(good.score < fitted.threshold for good in goods) >= 5
    y, x = np.unravel_index(int(bad.anomaly_map.argmax()), bad.anomaly_map.shape)
    assert abs(x - 40) <= 10 and abs(y - 80) <= 10


def _dimmed(image: np.ndarray) -> np.ndarray:
    """The same part under weaker, flatter light: grey levels 0.6 x + 20."""
    return np.clip(0.6 * image.astype(np.float32) + 20.0, 0, 255).round().astype(np.uint8)


def test_standardised_exposure_scores_a_part_alike_in_weaker_light(
    fitted: FitResult, good_images: list[np.ndarray], tmp_path: Path
) -> None:
    standardised = fit_anomaly(
        good_images,
        tmp_path / "model",
        input_size=load_package(fitted.package_dir).input_size,
        bank_size=500,
        device="cpu",
        exposure="standardised",
    )
    assert load_package(standardised.package_dir).exposure == "standardised"
    parts = [textured_part(seed) for seed in range(100, 104)]
    defect = with_blob(textured_part(200), centre=(40, 80), radius=8)
    changes = {}
    for name, result in (("as captured", fitted), ("standardised", standardised)):
        inferencer = AnomalyInferencer(result.package_dir, device="cpu")
        bright = [o.score for o in inferencer.predict(parts)]
        *dim, dim_defect = (o.score for o in inferencer.predict([*map(_dimmed, [*parts, defect])]))
        assert dim_defect > result.threshold, name  # a blob is a defect in any light
        changes[name] = max(abs(d - b) / b for d, b in zip(dim, bright, strict=True))
    # Camera grey levels: the weaker light moves scores by up to 15 %; standardised, 1 %.
    assert changes["standardised"] < 0.02 < 0.05 < changes["as captured"]
    # Fail-safe kept: frames without a part still reject. Flat frames all standardise to
    # mid-grey; a covered lens's sensor noise is gained at most 5x, not into texture.
    rng = np.random.default_rng(5)
    covered = np.clip(3 + rng.normal(0, 1, parts[0].shape), 0, 255).astype(np.uint8)
    blank = [np.zeros_like(parts[0]), covered]
    inferencer = AnomalyInferencer(standardised.package_dir, device="cpu")
    assert all(o.score > standardised.threshold for o in inferencer.predict(blank))


def test_calibration_rule() -> None:
    assert calibrate_threshold([10.0, 12.0, 14.0]) == pytest.approx(14.0 + 2.0)
    assert calibrate_threshold([10.0]) == pytest.approx(10.5)  # one score: 5 % margin
    assert calibrate_threshold([10.0, 10.01]) == pytest.approx(10.01 * 1.05)


def _write(folder: Path, images: list[np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"part_{i:02d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def test_fit_from_folders_with_separate_validation(tmp_path: Path) -> None:
    _write(tmp_path / "good", [textured_part(seed, 64) for seed in range(6)])
    _write(tmp_path / "val" / "day2", [textured_part(seed, 64) for seed in range(50, 53)])
    stages: list[str] = []
    result = fit_anomaly(
        tmp_path / "good",
        tmp_path / "model",
        val_good=tmp_path / "val",
        input_size=64,
        bank_size=100,
        device="cpu",
        progress=lambda stage, done, total: stages.append(stage),
    )
    assert (result.n_train, result.n_holdout) == (6, 3)
    assert stages[0] == "features" and stages[-1] == "save"
    assert {"coreset", "calibrate"} <= set(stages)
    assert load_package(result.package_dir).training["source"] == f"folder {tmp_path / 'good'}"


def test_unreadable_images_fail_the_fit_and_are_all_named(tmp_path: Path) -> None:
    _write(tmp_path / "good", [textured_part(seed, 64) for seed in range(6)])
    (tmp_path / "good" / "broken.png").write_bytes(b"not a png")
    (tmp_path / "good" / "empty.jpg").write_bytes(b"")
    with pytest.raises(SourceError, match=r"2 good image\(s\) cannot be read: .*(broken|empty)"):
        fit_anomaly(
            tmp_path / "good", tmp_path / "model", input_size=64, bank_size=50, device="cpu"
        )
    assert not (tmp_path / "model").exists()


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        fit_anomaly(tmp_path / "nope", tmp_path / "model")


def test_too_few_images(tmp_path: Path) -> None:
    _write(tmp_path / "good", [textured_part(seed, 64) for seed in range(4)])
    with pytest.raises(SourceError, match="found 4 good images .* at least 5"):
        fit_anomaly(tmp_path / "good", tmp_path / "model")


def test_existing_package_is_not_overwritten(fitted: FitResult, good_images: list) -> None:
    with pytest.raises(ValueError, match="already holds a model package"):
        fit_anomaly(good_images, fitted.package_dir)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"holdout_fraction": 0.0}, "holdout_fraction"),
        ({"holdout_fraction": 1.0}, "holdout_fraction"),
        ({"bank_size": 0}, "bank_size"),
        ({"input_size": 20}, "input size 20"),
        ({"name": "my model"}, "model name 'my model'"),
        ({"exposure": "auto"}, "exposure is 'auto'"),
    ],
)
def test_bad_parameters(tmp_path: Path, good_images: list, kwargs: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        fit_anomaly(good_images, tmp_path / "model", **kwargs)


def test_target_false_reject_takes_the_quantile_when_there_are_enough_scores() -> None:
    scores = [float(v) for v in range(200)]  # 0..199
    assert calibrate_threshold(scores, target_false_reject=0.01) == 198.0  # 2 of 200 over
    assert calibrate_threshold(scores, target_false_reject=0.05) == 190.0
    few = scores[:100]  # 100 < 2 / 0.01: the quantile cannot be located, maximum rule
    assert calibrate_threshold(few, target_false_reject=0.01) == calibrate_threshold(few)
    with pytest.raises(ValueError, match="target false-reject"):
        calibrate_threshold(scores, target_false_reject=0.7)
