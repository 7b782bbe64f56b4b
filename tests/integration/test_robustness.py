"""``inspector robustness`` end to end on rendered demo-line parts with the shipped model.

The demo line renders parts with their ground truth; a few of each kind go
into a labelled folder and the shipped ``models/demo-line`` scores them clean
and under corruptions through the line's own path. Model work runs on a
worker thread, as the CLI does (torch is several times slower on the main
thread of this machine).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.acquisition.demo_line import DemoLine
from inspector.acquisition.image_files import read_image
from inspector.cli import main
from inspector.cli_worker import call_on_worker
from inspector.core.verdict import Verdict
from inspector.decision.decide import decide
from inspector.decision.rules import DecisionRules
from inspector.ml.backend import open_inferencer
from inspector.pipeline.line import DEFAULT_MODEL_DIR
from inspector.reports.evaluation_report import summarize
from inspector.reports.robustness_report import (
    SCHEMA,
    summarize_robustness,
    write_robustness_report,
)
from inspector.training.evaluate import LabelledImage, evaluate_package
from inspector.training.robustness import run_robustness, stratified_sample
from inspector.training.robustness_results import RobustnessRun

PER_KIND = 4


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four good and four defective demo-line parts as ``good/`` and ``defect/`` PNGs."""
    folder = tmp_path_factory.mktemp("robustness") / "parts"
    counts = {"good": 0, "defect": 0}
    with DemoLine(rate_hz=0, defect_rate=0.5, seed=3) as line:
        for frame in line:
            kind = "defect" if frame.truth else "good"
            if counts[kind] < PER_KIND:
                (folder / kind).mkdir(parents=True, exist_ok=True)
                image = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(folder / kind / f"part{frame.part_id:03d}.png"), image)
                counts[kind] += 1
            if min(counts.values()) == PER_KIND:
                break
    return folder


@pytest.fixture(scope="module")
def run(parts: Path) -> RobustnessRun:
    return call_on_worker(
        lambda: run_robustness(
            DEFAULT_MODEL_DIR,
            parts,
            corruptions=["noise", "defocus"],
            severities=[1, 5],
            device="cpu",
            adversarial_images=0,
        )
    )


def test_clean_baseline_is_what_evaluate_measures(run: RobustnessRun, parts: Path) -> None:
    evaluation = call_on_worker(lambda: evaluate_package(DEFAULT_MODEL_DIR, parts, device="cpu"))
    assert [i.path for i in evaluation.images] == list(run.paths)
    clean = run.conditions[0]
    np.testing.assert_allclose(clean.scores, [i.score for i in evaluation.images], rtol=1e-5)
    expected = summarize(evaluation.images, evaluation.rules.threshold)
    summary = summarize_robustness(run)
    assert summary.clean.image_auroc == pytest.approx(expected.image_auroc)
    assert summary.clean.false_reject_rate == pytest.approx(expected.false_reject_rate)
    assert summary.clean.escape_rate == pytest.approx(expected.escape_rate)


def test_heavy_noise_and_blur_push_good_parts_towards_rejection(run: RobustnessRun) -> None:
    summary = summarize_robustness(run)
    clean = summary.clean
    for name in ("noise", "defocus"):
        mild, heavy = (c for c in summary.conditions if c.corruption == name)
        assert (mild.severity, heavy.severity) == (1, 5)
        assert heavy.mean_good_score > mild.mean_good_score > clean.mean_good_score, name
        assert heavy.false_reject_rate > clean.false_reject_rate, name


def test_parts_lit_unlike_the_good_ones_get_the_line_s_fail_safe_verdict(parts: Path) -> None:
    """Brightness and contrast drifts put some demo parts outside the model's taught
    lighting: a line would not judge them, so neither does robustness (scores unchanged);
    ``check_lighting=False`` (``--no-lighting-check``) judges them all the same."""

    def drifted(check: bool) -> RobustnessRun:
        return call_on_worker(
            lambda: run_robustness(
                DEFAULT_MODEL_DIR,
                parts,
                corruptions=["brightness", "contrast"],
                severities=[3, 4],
                device="cpu",
                adversarial_images=0,
                check_lighting=check,
            )
        )

    checked, unchecked = drifted(True).conditions, drifted(False).conditions
    for with_check, without in zip(checked, unchecked, strict=True):
        assert with_check.scores == without.scores
        pairs = zip(with_check.accepted, without.accepted, strict=True)
        assert all(u or not c for c, u in pairs)  # accepted with the check: accepted without
    assert sum(sum(c.accepted) for c in checked) < sum(sum(c.accepted) for c in unchecked)


def test_report_json_schema_plots_and_examples(run: RobustnessRun, tmp_path: Path) -> None:
    summary = summarize_robustness(run)
    page = write_robustness_report(run, summary, tmp_path / "report")
    data = json.loads((tmp_path / "report" / "robustness.json").read_text())
    assert data["schema"] == SCHEMA
    assert data["model"]["version"] == run.model_version and data["model"]["backend"] == "torch"
    assert data["data"]["class_counts"] == {"defect": PER_KIND, "good": PER_KIND}
    assert list(data["corruptions"]) == ["noise", "defocus"]
    assert data["corruptions"]["noise"]["levels"] == [2, 4, 8, 12, 20]
    conditions = [(c["corruption"], c["severity"], c["level"]) for c in data["conditions"]]
    assert conditions == [("noise", 1, 2), ("noise", 5, 20), ("defocus", 1, 3), ("defocus", 5, 13)]
    for c in [data["clean"], *data["conditions"]]:
        assert set(c) >= {"image_auroc", "false_reject_rate", "escape_rate", "escape_by_class"}
        assert 0.0 <= c["false_reject_rate"] <= 1.0 and 0.0 <= c["escape_rate"] <= 1.0
    assert set(data["summary"]) >= {"clean_image_auroc", "min_image_auroc", "max_escape_rate"}
    worst = data["summary"]["max_false_reject_rate"]
    assert worst["value"] == max(c["false_reject_rate"] for c in data["conditions"])
    assert data["adversarial"]["status"] == "skipped"
    assert all(len(v["scores"]) == 2 * PER_KIND for v in data["scores"].values())
    for plot in ("image_auroc.png", "escape_rate.png", "false_reject_rate.png"):
        assert cv2.imread(str(tmp_path / "report" / plot)) is not None
    shown = {e.corruption for e in run.examples}
    assert shown == {"clean", "noise", "defocus"} and {e.severity for e in run.examples} == {0, 5}
    text = page.read_text()
    assert "noise" in text and "examples/defocus.png" in text and "Adversarial" in text


def test_stratified_sample_keeps_every_class_in_proportion() -> None:
    items = [LabelledImage(Path(f"good/{i}.png"), "good", None) for i in range(30)]
    items += [LabelledImage(Path(f"crack/{i}.png"), "crack", None) for i in range(9)]
    items += [LabelledImage(Path("fray/0.png"), "fray", None)]
    chosen = stratified_sample(items, 10, seed=1)
    classes = [i.defect_class for i in chosen]
    assert (classes.count("good"), classes.count("crack"), classes.count("fray")) == (7, 2, 1)
    assert chosen == sorted(chosen, key=items.index), "folder order is kept"
    assert stratified_sample(items, 10, seed=1) == chosen
    assert stratified_sample(items, 10, seed=2) != chosen
    with pytest.raises(ValueError, match="use at least 3"):
        stratified_sample(items, 2, seed=1)


def test_cli_writes_the_report_and_refuses_bad_options(parts: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    printed = io.StringIO()
    args = ["robustness", "--model", str(DEFAULT_MODEL_DIR), "--data", str(parts)]
    args += ["--out", str(out), "--corruptions", "occlusion", "--severities", "5"]
    args += ["--adversarial-images", "0", "--device", "cpu", "--max-images", "4"]
    with contextlib.redirect_stdout(printed):
        assert main(args) == 0
    assert "occlusion s5" in printed.getvalue()
    data = json.loads((out / "robustness.json").read_text())
    assert data["data"]["images"] == 4 and data["data"]["images_available"] == 2 * PER_KIND
    assert [c["corruption"] for c in data["conditions"]] == ["occlusion"]
    for bad in (["--corruptions", "fog"], ["--severities", "0,3"]):
        with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            main(["robustness", "--model", "m", "--data", "d", *bad])


@pytest.mark.slow
def test_adversarial_search_finds_a_perturbation_the_line_accepts(parts: Path) -> None:
    """PGD on a demo part: the escape it reports is re-scored through the normal path."""
    result = call_on_worker(
        lambda: run_robustness(
            DEFAULT_MODEL_DIR,
            parts,
            corruptions=["noise"],
            severities=[5],
            device="cpu",
            adversarial_images=PER_KIND,
        )
    )
    adversarial = result.adversarial
    assert adversarial.status == "done" and len(adversarial.attacks) >= 1
    escaped = [a for a in adversarial.attacks if a.epsilon is not None]
    assert escaped, [(a.path.name, a.clean_score) for a in adversarial.attacks]
    inferencer = open_inferencer(DEFAULT_MODEL_DIR, device="cpu")
    for attack in escaped:
        assert attack.epsilon in adversarial.epsilons
        clean = read_image(attack.path)
        change = np.abs(attack.adversarial_image.astype(np.int16) - clean.astype(np.int16))
        assert 0 < change.max() <= attack.epsilon
        (output,) = call_on_worker(lambda a=attack: inferencer.predict([a.adversarial_image]))
        assert output.score < inferencer.default_threshold
        assert output.score == pytest.approx(attack.adversarial_score, rel=1e-5)
        assert decide(output, result.rules)[0] == Verdict.ACCEPT
        (before,) = call_on_worker(lambda c=clean: inferencer.predict([c]))
        assert decide(before, result.rules)[0] != Verdict.ACCEPT


@pytest.mark.slow
def test_an_onnx_package_is_scored_alike_and_not_attacked(
    run: RobustnessRun, parts: Path, tmp_path: Path
) -> None:
    from inspector.ml.onnx_export import export_onnx

    exported = tmp_path / "demo-onnx"
    call_on_worker(lambda: export_onnx(DEFAULT_MODEL_DIR, exported))
    onnx_run = run_robustness(
        exported, parts, corruptions=["noise", "defocus"], severities=[1, 5], adversarial_images=2
    )
    assert onnx_run.backend == "onnxruntime"
    assert onnx_run.adversarial.status == "skipped" and "ONNX Runtime" in onnx_run.adversarial.note
    for ours, theirs in zip(run.conditions, onnx_run.conditions, strict=True):
        np.testing.assert_allclose(theirs.scores, ours.scores, rtol=1e-3)
    page = write_robustness_report(onnx_run, summarize_robustness(onnx_run), tmp_path / "r")
    assert "has no gradients" in page.read_text()


def test_a_grey_part_gets_a_grey_perturbation_inside_the_ball(parts: Path) -> None:
    """A monochrome camera cannot deliver colour: one perturbation for all channels."""
    from inspector.training.adversarial import smallest_escape_epsilon

    colour = read_image(sorted((parts / "defect").iterdir())[0])
    grey = np.repeat(cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    inferencer = open_inferencer(DEFAULT_MODEL_DIR, device="cpu")
    (clean,) = call_on_worker(lambda: inferencer.predict([grey]))
    rules = DecisionRules(10 * clean.score)  # accepts any result: only the pixels are checked
    (result,) = call_on_worker(
        lambda: smallest_escape_epsilon(inferencer, [grey], rules, epsilons=(8,), steps=2)
    )
    assert result.epsilon == 8 and result.adversarial_score < clean.score
    out = result.adversarial_image
    assert out.shape == grey.shape and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    change = np.abs(out.astype(np.int16) - grey)
    assert 0 < change.max() <= 8
