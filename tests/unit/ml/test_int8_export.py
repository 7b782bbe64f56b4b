"""INT8 export: quantised backbone, memory rebuilt from its features, quality gate.

A tiny model with both branches (128 px synthetic parts, a 300-patch bank,
about 2 s to fit) is exported once per module (about 1 min on 2 cores: the
fp32 export, the feature and scoring graphs, quantisation and the rebuild).
The real-data test fits on a few magnetic-tile tiles and is skipped when
``../shared`` is absent.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from inspector.cli import main
from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer
from inspector.ml.onnx_quantize import check_calibration
from inspector.ml.package import load_package
from inspector.ml.runtime_package import RuntimePackage, load_runtime_package
from inspector.reports.int8_quality import Int8Quality, refusal
from inspector.training.fit_anomaly import fit_anomaly
from inspector.training.int8_export import export_int8
from inspector.training.int8_refit import target_false_reject
from tests.tiny_models import write_labelled
from tests.unit.ml.synthetic_parts import SIZE, textured_part

pytestmark = pytest.mark.slow


def _write(folder: Path, images: list[np.ndarray]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for index, image in enumerate(images):
        files.append(folder / f"{index:03d}.png")
        cv2.imwrite(str(files[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return files


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], Path]:
    """A two-branch tiny model, its good images as files, and a labelled check folder."""
    base = tmp_path_factory.mktemp("int8")
    good = [textured_part(seed) for seed in range(16)]
    fit_anomaly(
        good,
        base / "model",
        input_size=SIZE,
        bank_size=300,
        global_stage=5,
        score_top_fraction=0.01,
        device="cpu",
        name="tiny",
    )
    return base / "model", _write(base / "good", good), write_labelled(base / "check")


@pytest.fixture(scope="module")
def exported(tiny: tuple[Path, list[Path], Path]) -> tuple[RuntimePackage, RuntimePackage]:
    model, good, _ = tiny
    return export_int8(model, good, opset=18, calibration_images=8, threads=2)


def test_int8_quantises_the_backbone_and_nothing_after_the_bank(
    exported: tuple[RuntimePackage, RuntimePackage],
) -> None:
    fp32, int8 = exported
    graph = onnx.load_from_string(int8.network).graph
    assert [i.name for i in graph.input] == ["images", "memory_bank"]
    assert [o.name for o in graph.output] == ["scores", "maps"]
    ops = [node.op_type for node in graph.node]
    assert ops.count("QuantizeLinear") > 10 and ops.count("DequantizeLinear") > 10
    dequantised = {
        o for node in graph.node if node.op_type == "DequantizeLinear" for o in node.output
    }
    conv_inputs = {i for node in graph.node if node.op_type == "Conv" for i in node.input}
    assert conv_inputs & dequantised, "the convolutions read dequantised int8 tensors"
    # The first convolutions stay float32: the images are never rounded to 8 bits.
    assert not any(
        node.op_type == "QuantizeLinear" and "images" in node.input for node in graph.node
    )
    assert any(node.op_type == "Conv" and "images" in node.input for node in graph.node)
    assert int8.quantization["float_first_convs"] == 2
    tainted = {"memory_bank"}
    for node in graph.node:  # distances to the bank, smoothing and scores stay float32
        if tainted & set(node.input):
            tainted |= set(node.output)
            assert node.op_type not in ("QuantizeLinear", "DequantizeLinear"), node.name
            assert not set(node.input) & dequantised, node.name
    assert int8.version == f"{fp32.version}-int8"
    assert int8.quantization["calibration_images"] == 8
    assert int8.export_check["max_score_difference_relative_to_largest"] <= 1e-3


def test_the_memory_is_rebuilt_from_int8_features(
    tiny: tuple[Path, list[Path], Path], exported: tuple[RuntimePackage, RuntimePackage]
) -> None:
    model, good, _ = tiny
    source = load_package(model)
    fp32, int8 = exported
    assert int8.memory_bank.shape == fp32.memory_bank.shape == tuple(source.memory_bank.shape)
    assert int8.memory_bank.dtype == fp32.memory_bank.dtype == np.float16  # half the file
    assert not np.allclose(int8.memory_bank, fp32.memory_bank.astype(np.float32), atol=1e-3)
    rebuilt = int8.quantization["rebuilt_from_int8_features"]
    # The fit's split of 16 images: 13 for the bank, 3 held out; the image-level bank has both.
    assert (rebuilt["images"], rebuilt["bank_images"], rebuilt["holdout_images"]) == (16, 13, 3)
    assert rebuilt["bank_size"] == 300 and rebuilt["global_bank_size"] == 16
    assert rebuilt["threshold_fp32"] == fp32.threshold and rebuilt["threshold"] == int8.threshold
    assert int8.threshold != fp32.threshold
    assert int8.branches["global_branch"]["bank_size"] == 16
    assert int8.branches["score_normalisation"] != fp32.branches["score_normalisation"]


def test_model_json_says_what_was_rebuilt(
    tiny: tuple[Path, list[Path], Path],
    exported: tuple[RuntimePackage, RuntimePackage],
    tmp_path: Path,
) -> None:
    from inspector.ml.runtime_package import save_runtime_package

    save_runtime_package(exported[1], tmp_path / "pkg")
    loaded = load_runtime_package(tmp_path / "pkg")
    assert loaded.quantization["rebuilt_from_int8_features"]["bank_size"] == 300
    assert loaded.quantization["format"] == "QDQ"
    assert loaded.memory_bank.shape == exported[1].memory_bank.shape
    assert loaded.threshold == exported[1].threshold
    assert OnnxAnomalyInferencer(loaded).predict([textured_part(99)])[0].score > 0
    # The line on an INT8 package checks lighting as on the source model.
    taught = load_package(tiny[0]).lighting
    assert taught is not None and loaded.lighting == taught


def test_the_threshold_rule_is_read_from_the_source() -> None:
    package = load_package(Path(__file__).resolve().parents[3] / "models" / "demo-line")
    quantile = replace(package, metrics={"threshold_rule": "0.99 quantile of 300 good scores"})
    assert target_false_reject(quantile) == 0.01
    assert target_false_reject(replace(package, metrics={"threshold_rule": "max + ..."})) is None


def test_int8_needs_enough_good_images() -> None:
    with pytest.raises(ValueError, match="at least 8 good-part images"):
        check_calibration([textured_part(seed) for seed in range(3)])


def _export(args: list[str]) -> tuple[int, str, str]:
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = main(args)
    return code, printed.getvalue(), errors.getvalue()


def test_cli_int8_keeps_a_model_that_keeps_its_quality(
    tiny: tuple[Path, list[Path], Path], tmp_path: Path
) -> None:
    model, good, check = tiny
    out = tmp_path / "int8"
    args = ["export", "--model", str(model), "--out", str(out), "--int8"]
    assert _export(args)[0] == 2  # calibration and check data are required
    args += ["--calibration", str(good[0].parent), "--check-data", str(check)]
    code, printed, errors = _export([*args, "--calibration-images", "8"])
    assert code == 0, printed + errors
    assert "memory rebuilt from INT8 features" in printed and "image AUROC" in printed
    package = load_runtime_package(out)
    figures = package.quantization["check"]
    assert figures["images"] == 12 and figures["auroc_int8"] >= figures["auroc_fp32"] - 0.01
    assert package.quantization["limits"]["max_auroc_drop"] == 0.01
    code, _, _ = _export(
        ["predict", "--model", str(out), "--output", str(tmp_path / "p.jsonl"), str(check)]
    )
    assert code == 0 and len((tmp_path / "p.jsonl").read_text().splitlines()) == 12


def test_cli_int8_refuses_a_model_calibrated_on_the_wrong_images(
    tiny: tuple[Path, list[Path], Path], tmp_path: Path
) -> None:
    """Sensor noise as 'good parts' gives useless ranges and memory: refused, nothing written."""
    model, _, check = tiny
    rng = np.random.default_rng(7)
    noise = [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(10)]
    folder = _write(tmp_path / "noise", noise)[0].parent
    out = tmp_path / "int8"
    args = ["export", "--model", str(model), "--out", str(out), "--int8"]
    args += ["--calibration", str(folder), "--check-data", str(check)]
    code, printed, errors = _export(args)
    assert code == 1, printed + errors
    assert "INT8 refused: " in errors, printed + errors
    reason = errors[errors.index("INT8 refused: ") :]
    assert "falls by" in reason or "rises by" in reason, reason
    assert "Nothing was written" in reason and not out.exists()


def test_int8_refusal_says_by_how_much() -> None:
    fine = Int8Quality(40, 0.95, 0.945, 0.10, 0.11, 0.02, 0.02, 30.0, 15.0)
    assert refusal(fine) is None and fine.speedup == 2.0
    worse = replace(fine, auroc_int8=0.80, escape_int8=0.30)
    reason = refusal(worse)
    assert "image AUROC falls by 0.150 (0.950 -> 0.800" in reason
    assert "escape rate at the threshold rises by 20.0%" in reason
    assert refusal(worse, max_auroc_drop=0.2, max_escape_increase=0.25) is None
    assert "though at 1% false rejects" not in reason  # no operating points measured
    ranks_as_well = replace(
        worse, auroc_int8=0.95, escape_at_1pct_fp32=0.2, escape_at_1pct_int8=0.1
    )
    hint = refusal(ranks_as_well)
    assert "rises by 20.0%" in hint and "at 1% false rejects it lets through 10.0%" in hint
    assert "(at 1% false rejects 20.0% -> 10.0%)" in ranks_as_well.summary()
    ranks_worse = replace(ranks_as_well, escape_at_1pct_int8=0.3)
    assert "though" not in refusal(ranks_worse)
    rejecting = replace(fine, false_reject_int8=0.40)
    assert "false-reject rate at the threshold rises by 38.0%" in refusal(rejecting)
    with pytest.raises(ValueError, match="max_auroc_drop"):
        refusal(fine, max_auroc_drop=-0.1)
    with pytest.raises(ValueError, match="good and defective"):
        refusal(replace(fine, auroc_fp32=None))


@pytest.mark.dataset
def test_int8_scores_real_tiles_like_fp32(magnetic_tile: Path, tmp_path: Path) -> None:
    """On a handful of real tiles the rebuilt INT8 model keeps fp32's verdicts on most parts."""
    from inspector.acquisition.image_files import read_image

    good = sorted((magnetic_tile / "train" / "good").glob("*.jpg"))[:24]
    images = [read_image(f) for f in good]
    fit_anomaly(images, tmp_path / "model", bank_size=500, global_stage=5, device="cpu", name="mt")
    fp32, int8 = export_int8(tmp_path / "model", good, opset=18, calibration_images=16, threads=2)
    val = magnetic_tile / "val"
    files = sorted((val / "good").glob("*.jpg"))[:6]
    for defect in ("blowhole", "break", "crack", "uneven"):
        files += sorted((val / defect).glob("*.jpg"))[:2]
    images = [read_image(f) for f in files]
    a = [o.score for o in OnnxAnomalyInferencer(fp32, threads=2).predict(images)]
    b = [o.score for o in OnnxAnomalyInferencer(int8, threads=2).predict(images)]
    same = sum((x > fp32.threshold) == (y > int8.threshold) for x, y in zip(a, b, strict=True))
    assert same >= len(files) - 2, (a, b)
    assert np.corrcoef(a, b)[0, 1] > 0.9, (a, b)


def test_a_retrieval_model_gets_an_int8_gallery_per_image(tmp_path: Path) -> None:
    """The fit's default model: grid image branch + retrieval; its INT8 memory is a gallery too."""
    good = [textured_part(seed) for seed in range(16)]
    fit_anomaly(
        good,
        tmp_path / "model",
        input_size=SIZE,
        global_stage=4,
        global_grid=4,
        retrieval_k=3,
        density_weight=0.5,
        score_top_fraction=0.01,
        device="cpu",
        name="tiny-ret",
    )
    source = load_package(tmp_path / "model")
    fp32, int8 = export_int8(
        tmp_path / "model", _write(tmp_path / "good", good), opset=18, calibration_images=8
    )
    per_image = source.gallery_rows_per_image()
    rebuilt = int8.quantization["rebuilt_from_int8_features"]
    assert rebuilt["global_bank_size"] == 16
    assert int8.memory_bank.shape == (16 * per_image, source.memory_bank.shape[1])
    assert not np.allclose(int8.memory_bank, fp32.memory_bank.astype(np.float32), atol=1e-3)
    # Both networks even the map by the spacing of their own gallery's rows.
    for package in (fp32, int8):
        graph = onnx.load_from_string(package.network).graph
        assert "GatherElements" in {node.op_type for node in graph.node}, package.version
        assert [o.name for o in graph.output] == ["scores", "maps", "localisation_maps"]
    assert int8.branches["retrieval"]["density_weight"] == 0.5
    inferencer = OnnxAnomalyInferencer(int8)
    good = inferencer.predict([textured_part(3)])[0]
    assert (
        good.localisation_map is not None and good.localisation_map.shape == good.anomaly_map.shape
    )
    assert inferencer.predict([textured_part(99)])[0].score > good.score
