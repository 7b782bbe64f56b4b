"""``inspector fit`` end to end: a folder of good images in, a two-branch package out."""

from __future__ import annotations

from pathlib import Path

import cv2

from inspector.acquisition.image_files import list_images
from inspector.cli import main
from inspector.ml.package import load_package
from inspector.training.data_fingerprint import fingerprint_images
from inspector.training.fit_anomaly import split_holdout
from tests.unit.ml.synthetic_parts import textured_part


def _good_folder(tmp_path: Path, count: int) -> Path:
    good = tmp_path / "good"
    good.mkdir()
    for seed in range(count):
        cv2.imwrite(str(good / f"part_{seed}.png"), textured_part(seed))
    return good


def _fit(tmp_path: Path, count: int, *options: str) -> Path:
    """``inspector fit`` on ``count`` synthetic good parts at 128 px; the package folder."""
    out = tmp_path / "model"
    good = str(_good_folder(tmp_path, count))
    code = main(["fit", "--good", good, "--out", str(out), "--bank-size", "200",
                 "--input-size", "128", "--device", "cpu", *options])  # fmt: skip
    assert code == 0
    return out


def test_fit_writes_a_package_with_both_branches(tmp_path: Path) -> None:
    package = load_package(_fit(tmp_path, 12))
    assert package.name == "model" and package.global_stage == 4
    assert package.global_grid == 4 and package.retrieval_k == 10
    assert package.density_weight == 0.5  # the map shown is evened by default
    assert package.backbone_variant == "lite2"
    assert package.exposure == "standardised"  # lighting is not a defect by default
    assert package.training["count"] + package.training["holdout_count"] == 12
    assert package.training["localisation_head"]["epochs"] == 20  # taught by default
    assert package.localisation_head is not None
    # The default retrieval gallery: a quarter of each good image's 16 x 16 patches.
    assert package.memory_bank.shape[0] == 12 * 64


def test_the_package_names_the_good_images_it_learned_from(tmp_path: Path) -> None:
    """Its training fingerprint: every good image's content and path, learnt or held out."""
    package = load_package(_fit(tmp_path, 8, "--synthetic-epochs", "0"))
    good = tmp_path / "good"
    train, holdout = split_holdout(list_images(good), 0.2, 0)  # fit's defaults
    expected = fingerprint_images({"train": (good, train), "holdout": (good, holdout)})
    assert package.training["fingerprint"] == expected


def test_fit_without_retrieval_does_not_even_the_map(tmp_path: Path) -> None:
    package = load_package(_fit(tmp_path, 8, "--retrieval", "0", "--synthetic-epochs", "0"))
    assert package.retrieval_k == 0 and package.density_weight == 0.0


def test_fit_demo_keeps_the_fastest_backbone(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "demo"
    code = main(
        ["fit-demo", "--out", str(out), "--parts", "8", "--input-size", "128",
         "--device", "cpu", "--bank-size", "200"]
    )  # fmt: skip
    assert code == 0
    assert load_package(out).backbone_variant == "lite0"
    assert load_package(out).exposure == "as-captured"  # the shipped demo model's setting
    assert load_package(out).localisation_head is None  # fit-demo stays quick
    lighting = load_package(out).lighting
    assert lighting is not None and lighting.images == 8
    said = capsys.readouterr().out
    assert f"lighting the line accepts: mean grey {lighting.brightness}, grey spread" in said


def test_fit_can_keep_the_camera_grey_levels(tmp_path: Path) -> None:
    assert (
        load_package(
            _fit(tmp_path, 8, "--exposure", "as-captured", "--synthetic-epochs", "0")
        ).exposure
        == "as-captured"
    )
