"""Robustness figures from known scores: AUROC, rates, worst cases, epsilon medians, JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from inspector.decision.rules import DecisionRules
from inspector.reports.robustness_report import (
    summarize_robustness,
    write_robustness_report,
)
from inspector.training.robustness_results import (
    AdversarialRun,
    Attack,
    ConditionScores,
    ExampleImage,
    RobustnessRun,
)

CLASSES = ("good", "good", "good", "good", "crack", "crack", "fray", "fray")
IMAGE = np.full((40, 60, 3), 120, np.uint8)


def _attack(epsilon: int | None) -> Attack:
    perturbed = None if epsilon is None else (IMAGE + np.uint8(epsilon)).astype(np.uint8)
    score = None if epsilon is None else 1.0
    return Attack(Path("crack/a.png"), "crack", 9.0, epsilon, score, IMAGE, perturbed)


def _run(epsilons: list[int | None]) -> RobustnessRun:
    clean = ConditionScores("clean", 0, 0.0, (1, 2, 3, 4, 5, 6, 7, 8), (True,) * 4 + (False,) * 4)
    # Noise at severity 5: two good parts rejected, a crack and a fray accepted, AUROC 0.5.
    noisy = ConditionScores(
        "noise",
        5,
        20.0,
        (5, 6, 2, 3, 4, 7, 1, 4.5),
        (True, False, True, False, True) + (False,) * 3,
    )
    example = ExampleImage(Path("crack/a.png"), "crack", "noise", 5, 20.0, IMAGE, 7.0, False)
    return RobustnessRun(
        model_version="m-1",
        model_dir=Path("models/m"),
        model_files={"memory_bank.pt": "ab" * 32},
        backend="torch",
        device="CPU",
        rules=DecisionRules(4.5),
        data_dir=Path("data"),
        images_available=8,
        max_images=None,
        seed=0,
        paths=tuple(Path(f"{c}/{i}.png") for i, c in enumerate(CLASSES)),
        classes=CLASSES,
        unreadable=(),
        corruptions={"noise": {"parameter": "sigma", "unit": "grey levels", "levels": [2] * 5}},
        conditions=(clean, noisy),
        examples=(example,),
        adversarial=AdversarialRun(
            "done", "PGD", (1, 2, 4, 8, 16, 32), 10, 4.275, tuple(_attack(e) for e in epsilons)
        ),
        seconds=1.0,
    )


def test_figures_per_condition_from_scores_and_verdicts() -> None:
    summary = summarize_robustness(_run([4, 8, None]))
    assert summary.clean.image_auroc == 1.0
    assert (summary.clean.false_reject_rate, summary.clean.escape_rate) == (0.0, 0.0)
    (noisy,) = summary.conditions
    assert noisy.image_auroc == pytest.approx(0.5)
    assert noisy.false_reject_rate == 0.5 and noisy.escape_rate == 0.25
    assert noisy.escape_by_class == {"crack": 0.5, "fray": 0.0}
    assert noisy.mean_good_score == 4.0 and noisy.mean_defective_score == 4.125
    assert (summary.attacked, summary.escapes_found, summary.median_epsilon) == (3, 2, 8.0)


def test_a_median_beyond_the_ladder_is_none_and_said_so(tmp_path: Path) -> None:
    run = _run([4, None])
    summary = summarize_robustness(run)
    assert summary.median_epsilon is None
    page = write_robustness_report(run, summary, tmp_path)
    data = json.loads((tmp_path / "robustness.json").read_text())
    assert data["adversarial"]["median_epsilon"] is None
    assert data["adversarial"]["median_epsilon_text"] == "> 32"
    assert data["summary"]["adversarial_escapes"] == "1/2"
    assert data["summary"]["min_image_auroc"] == {
        "value": pytest.approx(0.5),
        "corruption": "noise",
        "severity": 5,
    }
    assert data["scores"]["noise/5"]["accepted"][:2] == [True, False]
    text = page.read_text()
    assert 'class="worse"' in text, "a rate 50 points worse than clean is shaded"
    assert "examples/adversarial_difference.png" in text and "&gt; 32" in text
    assert (tmp_path / "examples" / "adversarial_perturbed.png").is_file()


def test_an_empty_run_is_refused() -> None:
    run = _run([])
    empty = replace(run, conditions=(), classes=())
    with pytest.raises(ValueError, match="scored no images"):
        summarize_robustness(empty)
