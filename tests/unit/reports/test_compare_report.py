"""The comparison's verdict and disagreements follow from per-image results, figure by figure."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.core.verdict import Verdict
from inspector.decision.rules import DecisionRules
from inspector.reports.compare_report import compare_runs, verdict_line, write_compare_report
from inspector.training.evaluate import EvaluatedImage, EvaluationRun

CLASSES = ["good"] * 6 + ["crack"] * 3 + ["dent"] * 3


def _run(folder: Path, version: str, scores: list[float], threshold: float = 0.5) -> EvaluationRun:
    images = []
    for n, (name, score) in enumerate(zip(CLASSES, scores, strict=True)):
        path = folder / name / f"{n:02d}.png"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.full((16, 16, 3), 120, np.uint8))
        verdict = Verdict.ACCEPT if score < threshold else Verdict.REJECT
        images.append(
            EvaluatedImage(
                path, name, score, verdict, (), 2.0, (16, 16), np.zeros((16, 16), np.float32), None
            )
        )
    return EvaluationRun(
        version, folder, {}, {}, DecisionRules(threshold), "CPU", folder, tuple(images), (), 1.0
    )


#            good x 6                          crack x 3        dent x 3
BASELINE = [0.1, 0.2, 0.3, 0.2, 0.1, 0.6] + [0.7, 0.8, 0.4] + [0.9, 0.3, 0.8]
BETTER = [0.1, 0.2, 0.3, 0.2, 0.1, 0.4] + [0.7, 0.8, 0.9] + [0.9, 0.6, 0.8]
MIXED = [0.1, 0.2, 0.3, 0.2, 0.1, 0.4] + [0.7, 0.8, 0.9] + [0.9, 0.3, 0.4]


def test_a_model_better_on_every_figure_is_better(tmp_path: Path) -> None:
    new, old = _run(tmp_path, "new-1", BETTER), _run(tmp_path, "old-1", BASELINE)
    summary = compare_runs(new, old)
    assert summary.verdict == "better"
    assert "escapes 33.3 % -> 0.0 %" in summary.reasons
    assert "false rejects 16.7 % -> 0.0 %" in summary.reasons
    assert [(d.path.name, d.new_is_right) for d in summary.disagreements] == [
        ("05.png", True),
        ("08.png", True),
        ("10.png", True),
    ]
    line = verdict_line(summary, "new-1", "old-1")
    assert line.startswith("better: new-1 vs old-1: ")


def test_a_class_that_escapes_more_makes_it_mixed_even_when_totals_improve(
    tmp_path: Path,
) -> None:
    summary = compare_runs(_run(tmp_path, "n", MIXED), _run(tmp_path, "o", BASELINE))
    assert summary.verdict == "mixed"
    assert "dent escapes 33.3 % -> 66.7 %" in summary.reasons
    assert "crack escapes 33.3 % -> 0.0 %" in summary.reasons


def test_identical_results_are_the_same_and_the_reverse_is_worse(tmp_path: Path) -> None:
    old = _run(tmp_path, "o", BASELINE)
    assert compare_runs(_run(tmp_path, "n", BASELINE), old).verdict == "same"
    assert compare_runs(old, _run(tmp_path, "n", BETTER)).verdict == "worse"


def test_runs_over_different_images_are_refused(tmp_path: Path) -> None:
    other = _run(tmp_path / "other", "o", BASELINE)
    with pytest.raises(ValueError, match="same images"):
        compare_runs(_run(tmp_path, "n", BETTER), other)


def test_the_report_files_hold_both_sides_and_the_disagreements(tmp_path: Path) -> None:
    new, old = _run(tmp_path, "new-1", BETTER), _run(tmp_path, "old-1", BASELINE)
    summary = compare_runs(new, old)
    page = write_compare_report(new, old, summary, tmp_path / "report")
    data = json.loads((tmp_path / "report" / "compare.json").read_text())
    assert (data["verdict"], data["new"]["version"], data["baseline"]["version"]) == (
        "better",
        "new-1",
        "old-1",
    )
    assert data["baseline"]["metrics"]["escape_by_class"] == pytest.approx(
        {"crack": 1 / 3, "dent": 1 / 3}
    )
    assert [d["class"] for d in data["disagreements"]] == ["good", "crack", "dent"]
    assert len(list((tmp_path / "report" / "disagreements").glob("*.png"))) == 6
    assert "new-1" in page.read_text() and "dent escapes" in page.read_text()
