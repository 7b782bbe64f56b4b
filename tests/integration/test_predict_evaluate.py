"""``predict`` and ``evaluate`` end to end: the JSONL contract, maps, errors, real tiles."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.cli_quality import add_quality_commands, run_predict
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.patchcore import SCORE_TOP_FRACTION
from inspector.pipeline.line import DEFAULT_MODEL_DIR
from inspector.reports.evaluation_report import summarize, write_evaluation_report
from inspector.training.evaluate import evaluate_package, list_labelled_images
from inspector.training.fit_anomaly import fit_anomaly
from inspector.training.predict import predict_files

CONTRACT_KEYS = ["path", "score", "verdict", "defects", "latency_ms"]
DEFECT_KEYS = ["class", "confidence", "bbox", "area_px"]


@pytest.fixture(scope="module")
def demo_inferencer() -> AnomalyInferencer:
    return AnomalyInferencer(DEFAULT_MODEL_DIR, device="cpu")


def _image_folder(folder: Path) -> list[Path]:
    """Three readable images of odd sizes (one with a dark blob) and one corrupt file, lit
    like the demo model's good parts (mean grey about 115, spread about 40)."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    paths = []
    for name, (h, w) in {"a": (120, 200), "b": (256, 256), "c": (90, 150)}.items():
        image = rng.integers(10, 220, (h, w, 3), dtype=np.uint8)
        if name == "b":
            cv2.circle(image, (128, 128), 25, (0, 0, 0), -1)
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), image)
        paths.append(path)
    broken = folder / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    return [*paths, broken]


def test_predict_writes_the_contract_and_full_size_maps(tmp_path, demo_inferencer):
    files = _image_folder(tmp_path / "images")
    out = io.StringIO()
    summary = predict_files(demo_inferencer, [tmp_path / "images"], out, maps_dir=tmp_path / "m")

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [Path(line["path"]).name for line in lines] == sorted(f.name for f in files)
    assert (summary.scored, summary.failed) == (3, 1)
    good_lines = [line for line in lines if "error" not in line]
    for line in good_lines:
        assert list(line) == CONTRACT_KEYS
        assert isinstance(line["score"], float) and line["score"] > 0
        assert line["verdict"] in {"accept", "reject", "review"}
        assert isinstance(line["latency_ms"], float) and line["latency_ms"] > 0
        for defect in line["defects"]:
            assert list(defect) == DEFECT_KEYS
            assert len(defect["bbox"]) == 4 and all(isinstance(v, int) for v in defect["bbox"])
            assert isinstance(defect["area_px"], int) and 0 <= defect["confidence"] <= 1
        anomaly_map = np.load(tmp_path / "m" / f"{Path(line['path']).stem}.npy")
        image = cv2.imread(line["path"])
        assert anomaly_map.dtype == np.float32
        assert anomaly_map.shape == image.shape[:2]
        assert anomaly_map.max() == pytest.approx(line["score"], rel=0.02)  # resized map
    (error_line,) = [line for line in lines if "error" in line]
    assert Path(error_line["path"]).name == "broken.jpg"
    assert "cannot decode" in error_line["error"]
    assert not (tmp_path / "m" / "broken.npy").exists()


def test_predict_cli_exit_code_says_some_failed(tmp_path):
    files = _image_folder(tmp_path / "images")
    parser = argparse.ArgumentParser()
    add_quality_commands(parser.add_subparsers(dest="command"))
    output = tmp_path / "out" / "results.jsonl"
    common = ["predict", "--model", str(DEFAULT_MODEL_DIR), "--output", str(output)]
    common += ["--device", "cpu"]
    assert run_predict(parser.parse_args([*common, str(files[0]), str(files[3])])) == 1
    lines = output.read_text().splitlines()
    assert len(lines) == 2 and "error" in json.loads(lines[1])
    assert run_predict(parser.parse_args([*common, str(files[0])])) == 0


def test_predict_and_evaluate_do_not_judge_a_part_lit_unlike_the_good_ones(tmp_path, capsys):
    """As the line: a frame outside the model's taught lighting gets the fail-safe verdict,
    and says why."""
    from inspector.acquisition.demo_line import DemoLine
    from inspector.ml.package import load_package

    good = tmp_path / "set" / "good"
    good.mkdir(parents=True)
    with DemoLine(rate_hz=0, defect_rate=0.0, seed=5, max_parts=2) as line:
        parts = [frame.image for frame in line]
    dimmed = (parts[1] * 0.6).astype(np.uint8)  # the lamp at 60 %: the model alone accepts it
    for name, image in (("lit", parts[0]), ("also-lit", parts[1]), ("dimmed", dimmed)):
        cv2.imwrite(str(good / f"{name}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    taught = load_package(DEFAULT_MODEL_DIR).lighting
    assert taught is not None and taught.fault(dimmed) is not None

    out = io.StringIO()
    predict_files(DEFAULT_MODEL_DIR, [good], out, device="cpu")
    lines = {Path(x["path"]).stem: x for x in map(json.loads, out.getvalue().splitlines())}
    assert lines["dimmed"]["lighting"].startswith("lighting unlike the good parts")
    assert "darker than taught" in lines["dimmed"]["lighting"]
    assert (lines["dimmed"]["verdict"], lines["dimmed"]["defects"]) == ("reject", [])
    assert lines["dimmed"]["score"] > 0  # scored all the same
    assert "lighting" not in lines["lit"] and "lighting" not in lines["also-lit"]

    run = evaluate_package(DEFAULT_MODEL_DIR, tmp_path / "set", device="cpu")
    by_name = {i.path.stem: i for i in run.images}
    assert by_name["dimmed"].lighting == lines["dimmed"]["lighting"]
    assert by_name["dimmed"].verdict.value == "reject"
    assert by_name["lit"].lighting is None
    page = write_evaluation_report(run, summarize(run.images, run.rules.threshold), tmp_path / "r")
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["data"]["lit_unlike_good_parts"] == [str(good / "dimmed.png")]
    assert [i.get("lighting") is not None for i in report["images"]] == [False, True, False]
    assert "good parts (fail-safe verdict, as on the line)</th><td>1</td>" in page.read_text()

    from inspector.cli import main

    data, report = str(tmp_path / "set"), str(tmp_path / "r2")
    options = ["--model", str(DEFAULT_MODEL_DIR), "--data", data, "--report", report]
    assert main(["evaluate", *options, "--device", "cpu"]) == 0
    said = capsys.readouterr().out
    assert "note: 1 image(s) lit unlike the model's good parts got the fail-safe verdict" in said

    # A station that turned the check off gets its own verdicts from predict --config and
    # evaluate --no-lighting-check: the dimmed part is judged like the others.
    station = tmp_path / "station.toml"
    text = f"[model]\npath = '{DEFAULT_MODEL_DIR}'\n[decision]\nlighting_check = false\n"
    station.write_text(text)
    output = tmp_path / "unchecked.jsonl"
    config = ["predict", "--config", str(station), "--output", str(output), "--device", "cpu"]
    assert main([*config, str(good / "dimmed.png")]) == 0
    assert "lighting" not in json.loads(output.read_text())
    assert main(["evaluate", *options, "--device", "cpu", "--no-lighting-check"]) == 0
    assert "lit unlike" not in capsys.readouterr().out


def _tile_subset(dataset: Path, folder: Path, n_good: int) -> None:
    """Copy good images, and the clearest defects: the largest breaks and both frays.

    Breaks (chipped corners) and frays are what even a small model must catch;
    ``uneven`` shading and pin-sized blowholes are the hard classes that the
    full evaluation measures, not this smoke test.
    """
    val = dataset / "val"
    chosen = [("good", image) for image in sorted((val / "good").glob("*.jpg"))[:n_good]]
    breaks = sorted(
        (val / "break").glob("*.jpg"),
        key=lambda p: -(cv2.imread(str(p.with_suffix(".png")), cv2.IMREAD_GRAYSCALE) > 127).sum(),
    )
    chosen += [("break", image) for image in breaks[:4]]
    chosen += [("fray", image) for image in sorted((val / "fray").glob("*.jpg"))[:2]]
    for cls, image in chosen:
        (folder / cls).mkdir(parents=True, exist_ok=True)
        shutil.copy(image, folder / cls / image.name)
        shutil.copy(image.with_suffix(".png"), folder / cls / image.with_suffix(".png").name)


@pytest.mark.dataset
@pytest.mark.slow
@pytest.mark.parametrize(
    "branches",
    [
        {},
        {
            "global_stage": 4,
            "global_grid": 4,
            "retrieval_k": 10,
            "density_weight": 0.5,
            "exposure": "standardised",
            "synthetic_epochs": 3,
        },
    ],
    ids=["patch-only", "fit-defaults"],
)
def test_evaluate_separates_clear_defects_on_real_tiles(magnetic_tile, tmp_path, branches):
    train = sorted((magnetic_tile / "train" / "good").glob("*.jpg"))[:48]
    fit_anomaly(
        [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in train],
        tmp_path / "model",
        bank_size=1000,
        score_top_fraction=SCORE_TOP_FRACTION,
        device="cpu",
        name="tiles",
        **branches,
    )
    data = tmp_path / "data"
    _tile_subset(magnetic_tile, data, n_good=6)
    assert len(list_labelled_images(data)) == 12

    run = evaluate_package(tmp_path / "model", data, device="cpu")
    scores = {image.path.name: image.score for image in run.images}
    good = [image.score for image in run.images if not image.defective]
    bad = [image.score for image in run.images if image.defective]
    assert len(good) == 6 and len(bad) == 6 and not run.unreadable
    assert np.median(bad) > max(good), scores
    summary = summarize(run.images, run.rules.threshold)
    assert summary.image_auroc > 0.9
    assert summary.pixel_auroc is not None and summary.pixel_auroc > 0.7

    page = write_evaluation_report(run, summary, tmp_path / "report")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["metrics"]["image_auroc"] == pytest.approx(summary.image_auroc)
    assert report["model"]["version"] == run.model_version
    assert len(report["images"]) == 12
    assert (tmp_path / "report" / "roc.png").stat().st_size > 0
    assert (tmp_path / "report" / "scores.png").stat().st_size > 0
    by_class = report["metrics"]["verdicts_by_class"]
    assert list(by_class) == ["good", "break", "fray"]
    assert {name: sum(counts.values()) for name, counts in by_class.items()} == {
        "good": 6,
        "break": 4,
        "fray": 2,
    }
    assert set(report["metrics"]["pixel_auroc_by_class"]) == {"break", "fray"}
    assert report["metrics"]["escape_interval"]["trials"] == 6
    assert report["model"]["backbone"] == "efficientnet_lite0"
    assert report["model"]["exposure"] == branches.get("exposure", "as-captured")
    assert f"grey levels {report['model']['exposure']}" in page.read_text()
    head = report["model"]["training"].get("localisation_head")
    assert (head is not None) == ("synthetic_epochs" in branches)
    assert ("localisation head</th><td>taught 3 epochs" in page.read_text()) == (head is not None)
    assert report["software"]["inspector"] and report["software"]["torch"]
    assert report["metrics"]["false_reject_interval"]["trials"] == 6
    assert "95 % CI" in page.read_text()
    assert list((tmp_path / "report" / "examples").glob("*.png"))
    assert run.model_version in page.read_text()


def test_evaluate_keeps_a_bounded_share_of_pixels_on_one_grid(tmp_path, monkeypatch):
    """A set whose maps exceed the budget keeps every map and mask thinned by one
    stride, aligned with the full-size run, and the report says so."""
    from inspector.acquisition.demo_line import DemoLine
    from inspector.training import evaluate

    data = tmp_path / "set"
    (data / "good").mkdir(parents=True)
    (data / "scratch").mkdir()
    with DemoLine(rate_hz=0, defect_rate=0.0, seed=3, max_parts=3) as line:
        parts = [cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR) for frame in line]
    cv2.imwrite(str(data / "good" / "a.png"), parts[0])
    cv2.imwrite(str(data / "good" / "b.png"), parts[1])
    mask = np.zeros(parts[2].shape[:2], np.uint8)
    cv2.line(mask, (30, 40), (110, 90), 255, 5)
    scratched = parts[2].copy()
    scratched[mask > 0] = 20
    cv2.imwrite(str(data / "scratch" / "c.jpg"), scratched)
    cv2.imwrite(str(data / "scratch" / "c.png"), mask)

    full = evaluate_package(DEFAULT_MODEL_DIR, data, device="cpu")
    assert full.pixel_stride == 1
    pixels = sum(image.anomaly_map.size for image in full.images)
    monkeypatch.setattr(evaluate, "KEPT_PIXELS", pixels // 5)  # a quarter is still too many
    thinned = evaluate_package(DEFAULT_MODEL_DIR, data, device="cpu", batch=1)

    assert thinned.pixel_stride == 4
    for whole, kept in zip(full.images, thinned.images, strict=True):
        np.testing.assert_allclose(kept.anomaly_map, whole.anomaly_map[::4, ::4], atol=1e-5)
        np.testing.assert_array_equal(kept.mask, whole.mask[::4, ::4])
        assert kept.anomaly_map.base is None  # the full map was let go
    summary = summarize(thinned.images, thinned.rules.threshold)
    assert summary.pixel_auroc is not None and summary.aupro is not None
    page = write_evaluation_report(thinned, summary, tmp_path / "r")
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["data"]["pixel_stride"] == 4
    assert "sampled: 1 pixel in each 4 x 4 block" in page.read_text()
