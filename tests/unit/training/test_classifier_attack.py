"""FGSM and PGD against a really trained tiny classifier, and the robustness report of a classifier.

The perturbed images are checked where it matters: whole grey levels, inside
the epsilon ball, grey parts perturbed grey; and the accuracies the report
states are recomputed from the predictions it lists.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.reports.robustness_report import (
    SCHEMA,
    summarize_robustness,
    write_robustness_report,
)
from inspector.training.classifier_attack import _Logits, _perturb, attack_classifier
from inspector.training.robustness import run_robustness
from tests.trained_tiny_classifier import in_thread, synthetic_part, write_parts


@pytest.fixture(scope="module")
def classifier(trained_classifier: Path) -> ClassifierInferencer:
    return ClassifierInferencer(trained_classifier, device="cpu", max_batch=4)


@pytest.fixture(scope="module")
def parts() -> tuple[list[np.ndarray], list[str]]:
    kinds = ["good", "scratch", "spot"]
    return [synthetic_part(kind, 6000 + i)[0] for i, kind in enumerate(kinds)], kinds


def test_perturbations_stay_in_the_ball_in_whole_grey_levels(
    classifier: ClassifierInferencer, parts: tuple[list[np.ndarray], list[str]]
) -> None:
    images, kinds = parts
    labels = [classifier.classes.index(k) for k in kinds]
    for steps in (0, 3):  # FGSM, PGD
        out = in_thread(lambda s=steps: _perturb(_Logits(classifier), images, labels, 4, s))
        for clean, perturbed in zip(images, out, strict=True):
            assert perturbed.dtype == np.uint8 and perturbed.shape == clean.shape
            difference = perturbed.astype(np.int16) - clean
            assert np.abs(difference).max() <= 4
            assert np.abs(difference).max() >= 1  # it moved
            assert (perturbed[..., 0] == perturbed[..., 2]).all()  # a grey part stays grey


def test_pgd_lowers_the_accuracy_and_the_figures_match_the_predictions(
    classifier: ClassifierInferencer, parts: tuple[list[np.ndarray], list[str]]
) -> None:
    images, kinds = parts
    paths = [Path(f"{k}.png") for k in kinds]
    attacks = in_thread(
        lambda: attack_classifier(classifier, images, kinds, paths, epsilons=(2, 16), steps=3)
    )
    assert attacks.clean_accuracy == 1.0 and attacks.clean_good_vs_defect_accuracy == 1.0
    assert [(r.method, r.epsilon) for r in attacks.results] == [
        ("fgsm", 2),
        ("fgsm", 16),
        ("pgd", 2),
        ("pgd", 16),
    ]
    for r in attacks.results:
        assert r.accuracy == np.mean([p == k for p, k in zip(r.predictions, kinds, strict=True)])
        binary = [(p == "good") == (k == "good") for p, k in zip(r.predictions, kinds, strict=True)]
        assert r.good_vs_defect_accuracy == np.mean(binary)
    pgd = {r.epsilon: r.accuracy for r in attacks.results if r.method == "pgd"}
    assert pgd[16] < attacks.clean_accuracy  # 16 grey levels fool this tiny model


def test_bad_attack_requests_say_what_to_do(
    classifier: ClassifierInferencer, parts: tuple[list[np.ndarray], list[str]]
) -> None:
    images, kinds = parts
    paths = [Path("x.png")] * 3
    with pytest.raises(ValueError, match="not classes of the classifier"):
        attack_classifier(classifier, images, ["good", "dent", "spot"], paths)
    with pytest.raises(ValueError, match="increasing whole grey levels"):
        attack_classifier(classifier, images, kinds, paths, epsilons=(4, 2))
    with pytest.raises(ValueError, match="at least 1 step"):
        attack_classifier(classifier, images, kinds, paths, steps=0)


def test_the_robustness_report_of_a_classifier(trained_classifier: Path, tmp_path: Path) -> None:
    data = write_parts(tmp_path / "val", per_class=2, seed=7)
    run = in_thread(
        lambda: run_robustness(
            trained_classifier,
            data,
            corruptions=["brightness"],
            severities=[5],
            device="cpu",
            adversarial_images=3,
            adversarial_steps=2,
        )
    )
    assert run.model_kind == "classifier" and run.adversarial.status == "skipped"
    clean = run.conditions[0]
    # The score is the defect probability: good parts low, defective parts high.
    good = [s for s, c in zip(clean.scores, run.classes, strict=True) if c == "good"]
    bad = [s for s, c in zip(clean.scores, run.classes, strict=True) if c != "good"]
    assert max(good) < 0.5 < min(bad)
    page = write_robustness_report(run, summarize_robustness(run), tmp_path / "report")
    report = json.loads((tmp_path / "report" / "robustness.json").read_text())
    assert report["schema"] == SCHEMA and report["model"]["kind"] == "classifier"
    section = report["classifier_attacks"]
    assert section["epsilons"] == [1, 2, 4, 8, 16] and section["steps"] == 2
    assert len(section["images"]) == 3 and len(section["results"]) == 10
    assert set(report["summary"]["classifier_pgd_accuracy"]) == {"1", "2", "4", "8", "16"}
    assert report["summary"]["clean_image_auroc"] == 1.0
    assert (tmp_path / "report" / "attack_accuracy.png").stat().st_size > 10_000
    assert "Adversarial perturbations (classifier)" in page.read_text()


def test_a_classifier_refuses_folders_it_does_not_know(
    trained_classifier: Path, tmp_path: Path
) -> None:
    data = write_parts(tmp_path / "val", per_class=1)
    (data / "spot").rename(data / "dent")
    with pytest.raises(ValueError, match=r"folders \['dent'\] are not classes"):
        run_robustness(trained_classifier, data, device="cpu")
    (data / "dent").rename(data / "spot")
    with pytest.raises(ValueError, match="--adversarial-images 2 cannot attack one image"):
        run_robustness(trained_classifier, data, device="cpu", adversarial_images=2)
