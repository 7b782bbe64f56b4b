"""Two defect classifiers side by side on the same labelled images, and the verdict.

A classifier's job is to name the class, so its figures are the ones training
stores (accuracy, per-class precision / recall / F1, the confusion matrix,
defect-class accuracy); where it has a ``good`` class, a part it calls
``good`` is accepted, which gives the line's figures too: good-vs-defect
accuracy, escapes (defective called good), false rejects (good called
defective), per-class escapes and the AUROC of the defect probability
``1 - P(good)``. Without a ``good`` class (a set of defect classes only)
those do not apply, and the report says so instead of showing 0 or 100 %.

The verdict follows :mod:`inspector.reports.compare_verdict`, the rule of
anomaly-model comparisons. ``compare.json`` keeps that report's schema and
top-level keys (``verdict``, ``reasons``, ``new``/``baseline`` with
``version``, ``dir`` and ``metrics``) with ``"task": "classify"``, so
:mod:`inspector.reports.compare_json`, promotion records and the Models tab
read it unchanged. Runs are read through protocols, never through ``training``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from inspector.reports import metrics
from inspector.reports.classifier_compare_html import classifier_compare_html
from inspector.reports.compare_report import compare_header
from inspector.reports.compare_verdict import AUROC_TOLERANCE, Figure, weigh, whole_image

TASK = "classify"
GOOD = "good"
THUMBNAILS = 12
"""Disagreements shown as pictures in the HTML page (all are listed)."""
NO_GOOD_NOTE = (
    "no 'good' class: every class is a defect, so good-vs-defect accuracy, escapes and false "
    "rejects do not apply; accuracy and the per-class figures do"
)


class Classified(Protocol):
    """One classified image, as the report reads it."""

    path: Path
    defect_class: str
    predicted: str
    probabilities: Mapping[str, float]
    latency_ms: float


class MetricsLike(Protocol):
    """Classification metrics, as training computes them (``ClassificationMetrics``)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        ...


class ClassifierRunLike(Protocol):
    """A classifier's evaluation, as the report reads it."""

    model_version: str
    model_dir: Path
    model_files: dict[str, str]
    classes: tuple[str, ...]
    device: str
    data_dir: Path
    images: Sequence[Classified]
    unreadable: Sequence[str]
    metrics: MetricsLike
    seconds: float


@dataclass(frozen=True)
class ClassifierDisagreement:
    """An image the two classifiers name differently."""

    path: Path
    defect_class: str
    new: str
    new_probability: float
    baseline: str
    baseline_probability: float

    @property
    def right(self) -> str:
        """``new``, ``baseline`` or ``neither``: which one named the image's class."""
        if self.new == self.defect_class:
            return "new"
        return "baseline" if self.baseline == self.defect_class else "neither"


@dataclass(frozen=True)
class ClassifierComparisonSummary:
    """Both classifiers' figures (``compare.json``'s ``metrics``), disagreements, verdict."""

    new: dict[str, Any]
    baseline: dict[str, Any]
    class_counts: dict[str, int]
    notes: tuple[str, ...]
    disagreements: tuple[ClassifierDisagreement, ...]
    verdict: str
    reasons: tuple[str, ...]


def classifier_figures(run: ClassifierRunLike) -> dict[str, Any]:
    """Training's metrics of ``run`` plus the line's: escapes, false rejects, AUROC, latency.

    The line's figures are ``None`` (and escapes per class empty) when the
    classifier has no ``good`` class or the images lack one kind of part.
    """
    figures = run.metrics.to_dict()
    truth = [image.defect_class for image in run.images]
    figures |= {
        "escape_rate": None,
        "false_reject_rate": None,
        "escape_by_class": {},
        "image_auroc": None,
        "latency_ms_mean": float(np.mean([image.latency_ms for image in run.images])),
    }
    if GOOD not in run.classes:
        return figures
    accepted = [image.predicted == GOOD for image in run.images]
    rates = metrics.decision_rates(accepted, truth, good_class=GOOD)
    labels = np.array([name != GOOD for name in truth])
    defect_probability = np.array([1.0 - image.probabilities[GOOD] for image in run.images])
    figures |= {
        "escape_rate": _number(rates.escape_rate),
        "false_reject_rate": _number(rates.false_reject_rate),
        "escape_by_class": rates.escape_by_class,
    }
    if labels.any() and not labels.all():
        figures["image_auroc"] = metrics.auroc(defect_probability, labels)
    return figures


def compare_classifier_runs(
    new: ClassifierRunLike, baseline: ClassifierRunLike
) -> ClassifierComparisonSummary:
    """Set both runs side by side and decide whether the candidate is better.

    Raises:
        ValueError: the runs are not over the same images.
    """
    if [i.path for i in new.images] != [i.path for i in baseline.images]:
        msg = "the two evaluations are not over the same images: run both on the same folder"
        raise ValueError(msg)
    ours, theirs = classifier_figures(new), classifier_figures(baseline)
    counts = dict(metrics.class_counts([i.defect_class for i in new.images]))
    disagreements = tuple(
        ClassifierDisagreement(
            a.path,
            a.defect_class,
            a.predicted,
            a.probabilities[a.predicted],
            b.predicted,
            b.probabilities[b.predicted],
        )
        for a, b in zip(new.images, baseline.images, strict=True)
        if a.predicted != b.predicted
    )
    lacking = [run.model_version for run in (new, baseline) if GOOD not in run.classes]
    notes = (f"{' and '.join(lacking)}: {NO_GOOD_NOTE}",) if lacking else ()
    verdict, reasons = weigh(_figures(ours, theirs, counts))
    return ClassifierComparisonSummary(ours, theirs, counts, notes, disagreements, verdict, reasons)


def _figures(new: dict[str, Any], baseline: dict[str, Any], counts: dict[str, int]) -> list[Figure]:
    """What the verdict weighs: totals first, then each class (a class doing worse counts)."""
    images = sum(counts.values())
    defective = images - counts.get(GOOD, 0)
    figures = [
        Figure("accuracy", new["accuracy"], baseline["accuracy"], True, whole_image(images)),
        Figure(
            "defect-class accuracy",
            new["defect_class_accuracy"],
            baseline["defect_class_accuracy"],
            True,
            whole_image(defective),
        ),
        Figure(
            "escapes", new["escape_rate"], baseline["escape_rate"], False, whole_image(defective)
        ),
        Figure(
            "false rejects",
            new["false_reject_rate"],
            baseline["false_reject_rate"],
            False,
            whole_image(counts.get(GOOD, 0)),
        ),
        Figure(
            "image AUROC", new["image_auroc"], baseline["image_auroc"], True, AUROC_TOLERANCE, False
        ),
    ]
    for name, count in counts.items():
        if name == GOOD:
            continue
        figures.append(
            Figure(
                f"{name} recall",
                _recall(new, name),
                _recall(baseline, name),
                True,
                whole_image(count),
            )
        )
        figures.append(
            Figure(
                f"{name} escapes",
                new["escape_by_class"].get(name),
                baseline["escape_by_class"].get(name),
                False,
                whole_image(count),
            )
        )
    return figures


def _recall(figures: dict[str, Any], name: str) -> float | None:
    return figures["per_class"].get(name, {}).get("recall")


def _number(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _side(run: ClassifierRunLike, figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": run.model_version,
        "dir": str(run.model_dir),
        "files_sha256": dict(run.model_files),
        "device": run.device,
        "classes": list(run.classes),
        "metrics": figures,
        "seconds": round(run.seconds, 2),
    }


def classifier_compare_data(
    new: ClassifierRunLike, baseline: ClassifierRunLike, summary: ClassifierComparisonSummary
) -> dict[str, Any]:
    """Everything in ``compare.json`` (figures that cannot be computed are null)."""
    return {
        **compare_header(new, baseline, summary.verdict, summary.reasons, summary.class_counts),
        "task": TASK,
        "notes": list(summary.notes),
        "new": _side(new, summary.new),
        "baseline": _side(baseline, summary.baseline),
        "disagreements": [
            {
                "path": str(d.path),
                "class": d.defect_class,
                "new": {"class": d.new, "probability": d.new_probability},
                "baseline": {"class": d.baseline, "probability": d.baseline_probability},
                "right": d.right,
            }
            for d in summary.disagreements
        ],
    }


def write_classifier_compare_report(
    new: ClassifierRunLike,
    baseline: ClassifierRunLike,
    summary: ClassifierComparisonSummary,
    out_dir: str | Path,
) -> Path:
    """Write ``compare.json``, ``compare.html`` and disagreement thumbnails; returns the page."""
    out = Path(out_dir)
    (out / "disagreements").mkdir(parents=True, exist_ok=True)
    data = classifier_compare_data(new, baseline, summary)
    (out / "compare.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    pictures = {}
    for n, item in enumerate(summary.disagreements[:THUMBNAILS]):
        image = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        scale = 160 / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        name = f"disagreements/{n:02d}.jpg"
        cv2.imwrite(str(out / name), image)
        pictures[item.path] = name
    page = out / "compare.html"
    page.write_text(classifier_compare_html(data, pictures), encoding="utf-8")
    return page
