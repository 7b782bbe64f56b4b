"""Two classifiers side by side: figures, verdict, disagreements, and the file the GUI reads."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np
import pytest

from inspector.reports.classifier_compare import (
    compare_classifier_runs,
    write_classifier_compare_report,
)
from inspector.reports.compare_json import read_compare_report
from inspector.training.classifier_evaluate import ClassifiedImage, ClassifierRun
from inspector.training.classifier_metrics import classification_metrics

TRUTH = ["crack"] * 4 + ["dent"] * 4 + ["good"] * 4


def _run(
    folder: Path,
    version: str,
    said: list[str],
    classes: tuple[str, ...] = ("crack", "dent", "good"),
    truths: list[str] = TRUTH,
) -> ClassifierRun:
    images = []
    for n, (truth, predicted) in enumerate(zip(truths, said, strict=True)):
        path = folder / truth / f"{n:02d}.png"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.full((16, 16, 3), 40 * n % 255, np.uint8))
        rest = 0.2 / (len(classes) - 1)
        probabilities = {c: 0.8 if c == predicted else rest for c in classes}
        images.append(ClassifiedImage(path, truth, predicted, MappingProxyType(probabilities), 3.0))
    metrics = classification_metrics(
        [classes.index(t) for t in truths], [classes.index(p) for p in said], classes
    )
    return ClassifierRun(
        version, folder / version, {}, tuple(classes), "CPU", folder, tuple(images), (), metrics, 1
    )


#           crack x 4                          dent x 4                          good x 4
BASELINE = ["crack", "crack", "good", "dent"] + ["dent", "dent", "dent", "good"] + ["good"] * 4
BETTER = ["crack", "crack", "crack", "dent"] + ["dent", "dent", "dent", "dent"] + ["good"] * 4
# More right in total, but two cracks now escape as good: mixed, never better.
MIXED = ["crack", "good", "good", "crack"] + ["dent"] * 4 + ["good"] * 4


def test_fewer_escapes_and_more_right_is_better_with_the_line_figures(tmp_path: Path) -> None:
    summary = compare_classifier_runs(_run(tmp_path, "n", BETTER), _run(tmp_path, "o", BASELINE))

    assert summary.verdict == "better"
    assert summary.reasons == (
        "accuracy 75.0 % -> 91.7 %",
        "defect-class accuracy 62.5 % -> 87.5 %",
        "escapes 25.0 % -> 0.0 %",
        "image AUROC 0.8750 -> 1.0000",
        "crack recall 50.0 % -> 75.0 %",
        "crack escapes 25.0 % -> 0.0 %",
        "dent recall 75.0 % -> 100.0 %",
        "dent escapes 25.0 % -> 0.0 %",
    )
    old = summary.baseline
    assert (old["escape_rate"], old["false_reject_rate"]) == (0.25, 0.0)
    assert old["good_vs_defect_accuracy"] == pytest.approx(10 / 12)
    assert old["confusion"] == [[2, 1, 1], [0, 3, 1], [0, 0, 4]]
    assert [(d.path.name, d.right) for d in summary.disagreements] == [
        ("02.png", "new"),
        ("07.png", "new"),
    ]


def test_a_class_that_escapes_more_keeps_it_mixed(tmp_path: Path) -> None:
    summary = compare_classifier_runs(_run(tmp_path, "n", MIXED), _run(tmp_path, "o", BASELINE))
    assert summary.verdict == "mixed"
    assert "crack escapes 25.0 % -> 50.0 %" in summary.reasons
    assert (
        compare_classifier_runs(
            _run(tmp_path, "n", BASELINE), _run(tmp_path, "o", BASELINE)
        ).verdict
        == "same"
    )


def test_without_a_good_class_the_line_figures_are_said_not_to_apply(tmp_path: Path) -> None:
    truths, classes = ["crack"] * 4 + ["dent"] * 8, ("crack", "dent")
    new = _run(tmp_path, "n", ["crack"] * 4 + ["dent"] * 8, classes, truths)
    old = _run(tmp_path, "o", ["crack"] * 2 + ["dent"] * 10, classes, truths)
    summary = compare_classifier_runs(new, old)

    assert summary.verdict == "better"
    assert summary.new["escape_rate"] is None and summary.new["image_auroc"] is None
    assert summary.new["good_vs_defect_accuracy"] is None
    assert summary.notes and "no 'good' class" in summary.notes[0]
    assert not any("escapes" in reason for reason in summary.reasons)


def test_compare_json_is_read_back_for_the_models_tab_and_promotion(tmp_path: Path) -> None:
    new, old = _run(tmp_path, "new-1", BETTER), _run(tmp_path, "old-1", BASELINE)
    summary = compare_classifier_runs(new, old)
    page = write_classifier_compare_report(new, old, summary, tmp_path / "cmp")

    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert data["task"] == "classify" and data["verdict"] == "better"
    assert len(list((tmp_path / "cmp" / "disagreements").glob("*.jpg"))) == 2
    text = page.read_text()
    assert "Confusion matrices" in text and "said dent" in text and "02.png" in text
    outcome = read_compare_report(tmp_path / "cmp")
    assert outcome.task == "classify"
    assert outcome.verdict_line().startswith("better: new-1 vs old-1: accuracy 75.0 % -> 91.7 %")
    figures = {row[0]: row[1:] for row in outcome.key_figures()}
    assert figures["accuracy"] == ("91.7 %", "75.0 %")
    assert figures["escape rate"] == ("0.0 %", "25.0 %")
    assert figures["recall: crack"] == ("75.0 %", "50.0 %")
    assert "disagreements" not in outcome.promotion_metrics()


def test_runs_over_different_images_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="same images"):
        compare_classifier_runs(
            _run(tmp_path / "a", "n", BETTER), _run(tmp_path / "b", "o", BASELINE)
        )
