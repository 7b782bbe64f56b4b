"""The robustness report: how a model holds up under shop-floor corruptions and attacks.

:func:`summarize_robustness` turns a run's scores and verdicts into figures
(image AUROC, false-reject and escape rates at the model's threshold, per
corruption and severity, and the adversarial epsilons);
:func:`write_robustness_report` writes ``robustness.json`` (every figure and
score, with a ``summary`` block of floors a promotion rule or a model
comparison can read beside a candidate's), one plot per figure against
severity, example images and ``robustness.html`` that shows them all, in the
look of the evaluation report.

This module sits in ``reports`` and must not import ``training`` (sibling
layers), so it reads the run through small protocols that
:class:`inspector.training.robustness_results.RobustnessRun` satisfies.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from inspector.decision.rules import DecisionRules
from inspector.reports import metrics
from inspector.reports.robustness_classifier import (
    ATTACK_PLOT,
    ClassifierAttacksLike,
    classifier_attacks_data,
    classifier_summary,
)
from inspector.reports.robustness_html import robustness_html
from inspector.reports.robustness_plots import PLOTS, draw_attack_accuracy, draw_metric

SCHEMA = "inspector-robustness/1"
"""Version of the ``robustness.json`` layout; a reader checks it before comparing."""
EXAMPLE_MAX_SIDE = 256


class ConditionLike(Protocol):
    """One condition's scores and verdicts, as the report reads them."""

    corruption: str
    severity: int
    level: float
    scores: Sequence[float]
    accepted: Sequence[bool]


class ExampleLike(Protocol):
    """An example image under one condition."""

    path: Path
    defect_class: str
    corruption: str
    severity: int
    level: float
    image: np.ndarray
    score: float
    accepted: bool


class AttackLike(Protocol):
    """The adversarial search on one image."""

    path: Path
    defect_class: str
    clean_score: float
    epsilon: int | None
    adversarial_score: float | None
    image: np.ndarray
    adversarial_image: np.ndarray | None


class AdversarialLike(Protocol):
    """The adversarial part of a run."""

    status: str
    note: str
    epsilons: Sequence[int]
    steps: int
    target_score: float | None
    attacks: Sequence[AttackLike]


class RobustnessLike(Protocol):
    """A robustness run, as the report reads it."""

    model_version: str
    model_dir: Path
    model_files: dict[str, str]
    backend: str
    device: str
    rules: DecisionRules
    data_dir: Path
    images_available: int
    max_images: int | None
    seed: int
    paths: Sequence[Path]
    classes: Sequence[str]
    unreadable: Sequence[str]
    corruptions: dict[str, dict[str, object]]
    conditions: Sequence[ConditionLike]
    examples: Sequence[ExampleLike]
    adversarial: AdversarialLike
    seconds: float
    classifier_attacks: ClassifierAttacksLike | None
    model_kind: str


@dataclass(frozen=True)
class ConditionMetrics:
    """The figures of one condition (``clean`` at severity 0, or a corruption).

    Attributes:
        image_auroc: ``None`` when the set lacks good or defective images.
        false_reject_rate: Good parts the rules did not accept.
        escape_rate: Defective parts the rules accepted.
        escape_by_class: Escape rate per defect class.
        mean_good_score: Mean score of good parts (drift shows here first).
        mean_defective_score: Mean score of defective parts.
    """

    corruption: str
    severity: int
    level: float
    image_auroc: float | None
    false_reject_rate: float
    escape_rate: float
    escape_by_class: dict[str, float]
    mean_good_score: float
    mean_defective_score: float


@dataclass(frozen=True)
class RobustnessSummary:
    """Every figure of the report.

    Attributes:
        clean: The uncorrupted baseline.
        conditions: Each corruption at each severity, in run order.
        attacked: Defective images the adversarial search ran on.
        escapes_found: Of those, how many it made the rules accept.
        median_epsilon: Median smallest epsilon in grey levels (an image
            without an escape counts as larger than any); ``None`` when the
            median is beyond the largest epsilon tried, or nothing was attacked.
    """

    clean: ConditionMetrics
    conditions: tuple[ConditionMetrics, ...]
    attacked: int
    escapes_found: int
    median_epsilon: float | None


def _metrics(condition: ConditionLike, classes: Sequence[str]) -> ConditionMetrics:
    scores = np.asarray(condition.scores, dtype=np.float64)
    labels = np.array([c != "good" for c in classes])
    finite = np.isfinite(scores)
    both = labels[finite].any() and not labels[finite].all()
    rates = metrics.decision_rates(condition.accepted, classes)

    def mean(mask: np.ndarray) -> float:
        chosen = scores[mask & finite]
        return float(chosen.mean()) if chosen.size else math.nan

    return ConditionMetrics(
        corruption=condition.corruption,
        severity=condition.severity,
        level=float(condition.level),
        image_auroc=metrics.auroc(scores[finite], labels[finite]) if both else None,
        false_reject_rate=rates.false_reject_rate,
        escape_rate=rates.escape_rate,
        escape_by_class=rates.escape_by_class,
        mean_good_score=mean(~labels),
        mean_defective_score=mean(labels),
    )


def summarize_robustness(run: RobustnessLike) -> RobustnessSummary:
    """Compute the figures of every condition and of the adversarial search.

    Raises:
        ValueError: the run has no conditions or no images.
    """
    if not run.conditions or not run.classes:
        msg = "the robustness run scored no images: check the data folder and the model"
        raise ValueError(msg)
    figures = [_metrics(c, run.classes) for c in run.conditions]
    attacks = run.adversarial.attacks
    epsilons = [math.inf if a.epsilon is None else float(a.epsilon) for a in attacks]
    median = float(np.median(epsilons)) if epsilons else math.inf
    return RobustnessSummary(
        clean=figures[0],
        conditions=tuple(figures[1:]),
        attacked=len(attacks),
        escapes_found=sum(a.epsilon is not None for a in attacks),
        median_epsilon=median if math.isfinite(median) else None,
    )


def _extreme(
    conditions: Sequence[ConditionMetrics], metric: str, worst: Any
) -> dict[str, Any] | None:
    usable = [c for c in conditions if (v := getattr(c, metric)) is not None and math.isfinite(v)]
    if not usable:
        return None
    pick = worst(usable, key=lambda c: getattr(c, metric))
    return {
        "value": getattr(pick, metric),
        "corruption": pick.corruption,
        "severity": pick.severity,
    }


def robustness_data(run: RobustnessLike, summary: RobustnessSummary) -> dict[str, Any]:
    """Everything in ``robustness.json``; ``summary`` holds the figures to compare models by."""
    aurocs = [c.image_auroc for c in summary.conditions if c.image_auroc is not None]
    adversarial = run.adversarial
    ladder = list(adversarial.epsilons)
    median = summary.median_epsilon
    data = {
        "schema": SCHEMA,
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "model": {
            "version": run.model_version,
            "kind": run.model_kind,
            "dir": str(run.model_dir),
            "backend": run.backend,
            "files_sha256": dict(run.model_files),
        },
        "rules": {**asdict(run.rules), "version": run.rules.version},
        "device": run.device,
        "data": {
            "dir": str(run.data_dir),
            "images": len(run.classes),
            "images_available": run.images_available,
            "max_images": run.max_images,
            "seed": run.seed,
            "class_counts": dict(metrics.class_counts(run.classes)),
            "unreadable": list(run.unreadable),
        },
        "corruptions": run.corruptions,
        "summary": {
            "clean_image_auroc": summary.clean.image_auroc,
            "clean_false_reject_rate": summary.clean.false_reject_rate,
            "clean_escape_rate": summary.clean.escape_rate,
            "mean_image_auroc": float(np.mean(aurocs)) if aurocs else None,
            "min_image_auroc": _extreme(summary.conditions, "image_auroc", min),
            "max_escape_rate": _extreme(summary.conditions, "escape_rate", max),
            "max_false_reject_rate": _extreme(summary.conditions, "false_reject_rate", max),
            "adversarial_median_epsilon": median,
            "adversarial_escapes": f"{summary.escapes_found}/{summary.attacked}",
            **classifier_summary(run.classifier_attacks),
        },
        "clean": asdict(summary.clean),
        "conditions": [asdict(c) for c in summary.conditions],
        "adversarial": {
            "status": adversarial.status,
            "note": adversarial.note,
            "epsilons": ladder,
            "steps": adversarial.steps,
            "target_score": adversarial.target_score,
            "median_epsilon": median,
            "median_epsilon_text": _epsilon_text(median, summary.attacked, ladder),
            "images": [
                {
                    "path": str(a.path),
                    "class": a.defect_class,
                    "clean_score": a.clean_score,
                    "epsilon": a.epsilon,
                    "epsilon_text": _epsilon_text(a.epsilon, 1, ladder),
                    "adversarial_score": a.adversarial_score,
                }
                for a in adversarial.attacks
            ],
        },
        "classifier_attacks": classifier_attacks_data(run.classifier_attacks),
        "images": [
            {"path": str(p), "class": c} for p, c in zip(run.paths, run.classes, strict=True)
        ],
        "scores": {
            f"{c.corruption}/{c.severity}": {"scores": list(c.scores), "accepted": list(c.accepted)}
            for c in run.conditions
        },
        "seconds": round(run.seconds, 2),
    }
    return _finite(data)


def _finite(value: Any) -> Any:
    """JSON has no nan or inf: write ``null`` for figures that could not be computed."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _epsilon_text(value: float | None, count: int, ladder: Sequence[int]) -> str:
    if count == 0 or not ladder:
        return "n/a"
    if value is None:
        return f"> {ladder[-1]}"
    return f"{value:g}"


def _save(path: Path, image: np.ndarray) -> None:
    height, width = image.shape[:2]
    scale = EXAMPLE_MAX_SIDE / max(height, width)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def _write_adversarial_example(run: RobustnessLike, out: Path) -> dict[str, Any] | None:
    """Clean, perturbed and amplified difference of the attack with the smallest epsilon."""
    hits = [a for a in run.adversarial.attacks if a.adversarial_image is not None]
    if not hits:
        return None
    attack = min(hits, key=lambda a: (a.epsilon, a.adversarial_score))
    difference = attack.adversarial_image.astype(np.int16) - attack.image.astype(np.int16)
    gain = 127.0 / max(1, attack.epsilon)
    amplified = np.clip(128 + difference * gain, 0, 255).astype(np.uint8)
    names = {"clean": attack.image, "perturbed": attack.adversarial_image, "difference": amplified}
    for name, image in names.items():
        _save(out / "examples" / f"adversarial_{name}.png", image)
    return {
        "path": attack.path.name,
        "class": attack.defect_class,
        "epsilon": attack.epsilon,
        "clean_score": attack.clean_score,
        "score": attack.adversarial_score,
        "gain": gain,
    }


def write_robustness_report(
    run: RobustnessLike, summary: RobustnessSummary, out_dir: str | Path
) -> Path:
    """Write ``robustness.json``, ``robustness.html``, the plots and ``examples/*.png``.

    Returns:
        The path of ``robustness.html``.
    """
    out = Path(out_dir)
    (out / "examples").mkdir(parents=True, exist_ok=True)
    data = robustness_data(run, summary)
    (out / "robustness.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    for metric in PLOTS:
        draw_metric(summary.clean, summary.conditions, metric, out / f"{metric}.png")
    examples = []
    for example in run.examples:
        name = f"examples/{example.corruption}.png"
        _save(out / name, example.image)
        examples.append((name, example))
    adversarial = _write_adversarial_example(run, out)
    if data["classifier_attacks"] is not None:
        draw_attack_accuracy(data["classifier_attacks"], out / ATTACK_PLOT)
    page = out / "robustness.html"
    page.write_text(robustness_html(data, examples, adversarial), encoding="utf-8")
    return page
