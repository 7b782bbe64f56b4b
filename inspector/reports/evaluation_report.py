"""The evaluation report: quality figures of a model on labelled parts, for a validation file.

:func:`summarize` turns per-image results into the figures the issue asks
for (image and pixel AUROC, AUPRO, false-reject and escape rates at the
threshold and per class, escapes at given false-reject rates);
:func:`write_evaluation_report` writes ``report.json`` (every figure and every
image's score, for tools and audits), ``roc.png``, overlay examples of
catches, escapes and false rejects, and ``report.html`` that shows them all.

This module sits in ``reports`` and must not import ``training`` (sibling
layers), so it reads the evaluation through the small :class:`Evaluated` and
:class:`EvaluationLike` protocols, which
:class:`inspector.training.evaluate.EvaluationRun` satisfies.
"""

from __future__ import annotations

import json
import logging
import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from inspector.acquisition.image_files import read_image
from inspector.core.errors import SourceError
from inspector.core.frame import Frame
from inspector.core.inspection import Defect, Inspection
from inspector.core.verdict import Verdict
from inspector.decision.rules import DecisionRules
from inspector.overlay.compose import render_overlay, verdict_above
from inspector.reports import metrics
from inspector.reports.acceptance import Acceptance, acceptance_lines, rate_of
from inspector.reports.evaluation_html import evaluation_html
from inspector.reports.evaluation_pdf import write_evaluation_pdf
from inspector.reports.figure_text import percent_or_na
from inspector.reports.rate_interval import RateInterval, rate_interval
from inspector.reports.score_distribution import (
    class_order,
    draw_score_distribution,
    save_score_distribution,
)

OPERATING_FALSE_REJECT_RATES = (0.01, 0.02)
"""False-reject rates the line can afford, at which escapes are reported."""
EXAMPLES_PER_KIND = 6
GT_COLOR = (0, 255, 0)

log = logging.getLogger(__name__)


class Evaluated(Protocol):
    """One evaluated image, as the report reads it."""

    path: Path
    defect_class: str
    score: float
    verdict: Verdict
    defects: tuple[Defect, ...]
    latency_ms: float
    anomaly_map: np.ndarray
    mask: np.ndarray | None
    overlay_map: np.ndarray | None
    lighting: str | None
    regions: np.ndarray | None


class EvaluationLike(Protocol):
    """An evaluation run, as the report reads it."""

    model_version: str
    model_dir: Path
    model_files: dict[str, str]
    model_summary: dict[str, object]
    rules: DecisionRules
    device: str
    data_dir: Path
    images: Sequence[Evaluated]
    unreadable: Sequence[str]
    seconds: float
    data_fingerprint: str | None
    image_sha256: Mapping[Path, str]
    pixel_stride: int


@dataclass(frozen=True)
class OperatingPoint:
    """Escapes at the lowest threshold keeping false rejects at or below a rate."""

    false_reject_rate: float
    threshold: float
    escape_rate: float
    escape_interval: RateInterval | None = None


@dataclass(frozen=True)
class QualitySummary:
    """The quality figures of one evaluation (``None`` where they cannot be computed).

    Attributes:
        class_counts: Images per class.
        image_auroc: Image-level AUROC of the scores.
        pixel_auroc: Pixel-level AUROC over images with masks (good ones included).
        aupro: Per-region overlap, integrated to FPR 0.3 and normalised.
        pixel_images: Images the pixel figures were computed on.
        threshold: Threshold of the verdicts.
        false_reject_rate: Good parts not accepted by the rules.
        escape_rate: Defective parts accepted by the rules.
        escape_by_class: Escape rate per defect class.
        operating_points: Escapes at :data:`OPERATING_FALSE_REJECT_RATES`.
        latency_ms_mean: Mean inference time per image.
        verdicts_by_class: Per class, how many images got each verdict
            (``accept``, ``review``, ``reject``) at the threshold in force.
        pixel_auroc_by_class: Per defect class with masked defect pixels, the
            pixel AUROC of its defect pixels against the defect-free pixels of
            its own images and of the good images with masks.
        false_reject_interval: The false-reject rate's counts and 95 %
            confidence interval (:mod:`inspector.reports.rate_interval`), or
            ``None`` without good images.
        escape_interval: The same for the escape rate, or ``None`` without
            defective images.
    """

    class_counts: dict[str, int]
    image_auroc: float | None
    pixel_auroc: float | None
    aupro: float | None
    pixel_images: int
    threshold: float
    false_reject_rate: float
    escape_rate: float
    escape_by_class: dict[str, float]
    operating_points: tuple[OperatingPoint, ...]
    latency_ms_mean: float
    verdicts_by_class: dict[str, dict[str, int]] = field(default_factory=dict)
    pixel_auroc_by_class: dict[str, float] = field(default_factory=dict)
    false_reject_interval: RateInterval | None = None
    escape_interval: RateInterval | None = None


def summarize(images: Sequence[Evaluated], threshold: float) -> QualitySummary:
    """Compute every figure of the report from per-image results.

    Raises:
        ValueError: no images.
    """
    if not images:
        msg = "no evaluated images to summarise: check that the data folder has readable images"
        raise ValueError(msg)
    scores = np.array([i.score for i in images], dtype=np.float64)
    classes = [i.defect_class for i in images]
    labels = np.array([i.defect_class != "good" for i in images])
    finite = np.isfinite(scores)
    both = labels[finite].any() and not labels[finite].all()
    points: list[OperatingPoint] = []
    image_auroc = None
    if both:
        image_auroc = metrics.auroc(scores[finite], labels[finite])
        defective = int(labels[finite].sum())
        for rate in OPERATING_FALSE_REJECT_RATES:
            escape, at = metrics.escape_at_false_reject_rate(scores[finite], labels[finite], rate)
            interval = rate_interval(round(escape * defective), defective)
            points.append(OperatingPoint(rate, at, escape, interval))
    with_masks = [i for i in images if i.mask is not None]
    has_defect_pixels = any(i.mask.any() for i in with_masks)
    pixel_auroc = aupro = None
    if has_defect_pixels:
        maps = [i.anomaly_map for i in with_masks]
        masks = [i.mask for i in with_masks]
        pixel_auroc = metrics.pixel_auroc(maps, masks)
        aupro = metrics.aupro(maps, masks, regions=[i.regions for i in with_masks])
    accepted = np.array([i.verdict == Verdict.ACCEPT for i in images])
    rates = metrics.decision_rates(accepted, classes)
    return QualitySummary(
        class_counts=dict(metrics.class_counts(classes)),
        image_auroc=image_auroc,
        pixel_auroc=pixel_auroc,
        aupro=aupro,
        pixel_images=len(with_masks) if has_defect_pixels else 0,
        threshold=threshold,
        false_reject_rate=rates.false_reject_rate,
        escape_rate=rates.escape_rate,
        escape_by_class=rates.escape_by_class,
        operating_points=tuple(points),
        latency_ms_mean=float(np.mean([i.latency_ms for i in images])),
        verdicts_by_class=verdicts_by_class(images),
        pixel_auroc_by_class=pixel_auroc_by_class(with_masks),
        false_reject_interval=_interval(~accepted[~labels]),
        escape_interval=_interval(accepted[labels]),
    )


def _interval(events: np.ndarray) -> RateInterval | None:
    """Counts and confidence interval of a rate given as one bool per part (``None``: no parts)."""
    return rate_interval(int(events.sum()), int(events.size)) if events.size else None


def verdicts_by_class(images: Sequence[Evaluated]) -> dict[str, dict[str, int]]:
    """How many images of each class got each verdict (classes as :func:`class_order`)."""
    table: dict[str, dict[str, int]] = {}
    for name in class_order([i.defect_class for i in images]):
        counts = dict.fromkeys((v.value for v in Verdict), 0)
        for image in images:
            if image.defect_class == name:
                counts[image.verdict.value] += 1
        table[name] = counts
    return table


def pixel_auroc_by_class(with_masks: Sequence[Evaluated]) -> dict[str, float]:
    """Each defect class's pixel AUROC against defect-free pixels (see :class:`QualitySummary`).

    Per class because one class with large masks (magnetic-tile's "uneven":
    81 % of all defect pixels) otherwise decides the overall figure alone.
    """
    good = [i for i in with_masks if i.defect_class == "good"]
    figures = {}
    for name in class_order([i.defect_class for i in with_masks]):
        own = [i for i in with_masks if i.defect_class == name and i.defect_class != "good"]
        if not any(i.mask.any() for i in own):
            continue
        chosen = own + good
        figures[name] = metrics.pixel_auroc(
            [i.anomaly_map for i in chosen], [i.mask for i in chosen]
        )
    return figures


def _finite(value: Any) -> Any:
    """JSON has no nan: write ``null`` for figures that could not be computed."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


SOFTWARE = ("numpy", "opencv-python-headless", "torch", "torchvision", "onnxruntime")
"""Packages whose versions a report names (those installed; read from their metadata)."""


def software_versions() -> dict[str, str]:
    """What computed the figures: Inspector, Python, the platform and :data:`SOFTWARE`.

    Read from package metadata, so nothing is imported (a line PC without
    torch reports no torch rather than failing).
    """
    from importlib import metadata

    from inspector import __version__

    found = {
        "inspector": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for name in SOFTWARE:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def report_data(
    run: EvaluationLike, summary: QualitySummary, acceptance: Acceptance | None = None
) -> dict[str, Any]:
    """Everything in ``report.json``: model, rules, data, figures, acceptance criteria and
    their verdict (when given), ROC and every image."""
    scores = np.array([i.score for i in run.images])
    labels = np.array([i.defect_class != "good" for i in run.images])
    roc = None
    if summary.image_auroc is not None:
        finite = np.isfinite(scores)
        curve = metrics.roc_curve(scores[finite], labels[finite])
        roc = {"fpr": curve.fpr.tolist(), "tpr": curve.tpr.tolist()}
    data = {
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "model": {
            "version": run.model_version,
            "dir": str(run.model_dir),
            "files_sha256": dict(run.model_files),
            **run.model_summary,
        },
        "rules": {**asdict(run.rules), "version": run.rules.version},
        "device": run.device,
        "software": software_versions(),
        "data": {
            "dir": str(run.data_dir),
            "dir_resolved": str(Path(run.data_dir).resolve()),
            "fingerprint": run.data_fingerprint,
            "class_counts": summary.class_counts,
            "images": len(run.images),
            "pixel_images": summary.pixel_images,
            "pixel_stride": run.pixel_stride,
            "unreadable": list(run.unreadable),
            "lit_unlike_good_parts": [str(i.path) for i in run.images if i.lighting],
        },
        "metrics": asdict(summary),
        "roc": roc,
        "acceptance": None if acceptance is None else _acceptance_data(acceptance),
        "seconds": round(run.seconds, 2),
        "images": [
            {
                "path": str(i.path),
                "class": i.defect_class,
                "score": i.score,
                "verdict": i.verdict.value,
                "defects": len(i.defects),
                **({"lighting": i.lighting} if i.lighting else {}),
                **({"sha256": run.image_sha256[i.path]} if i.path in run.image_sha256 else {}),
            }
            for i in run.images
        ],
    }
    return _finite(data)


def draw_roc(summary: QualitySummary, fpr: np.ndarray, tpr: np.ndarray, size: int = 480):
    """ROC curve as an RGB image drawn with OpenCV (no plotting library needed).

    The model's threshold and the operating points are marked, so a reader
    sees where the line will run, not only the area.
    """
    margin, side = 60, size - 80
    image = np.full((size, size, 3), 255, np.uint8)

    def at(x: float, y: float) -> tuple[int, int]:
        return int(round(margin + x * side)), int(round(margin - 40 + side - y * side))

    for tick in np.linspace(0, 1, 6):
        cv2.line(image, at(tick, 0), at(tick, 1), (225, 225, 225), 1)
        cv2.line(image, at(0, tick), at(1, tick), (225, 225, 225), 1)
        label = f"{tick:.1f}"
        x, y = at(tick, 0)
        cv2.putText(image, label, (x - 12, y + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        x, y = at(0, tick)
        cv2.putText(image, label, (x - 30, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.rectangle(image, at(0, 1), at(1, 0), (0, 0, 0), 1)
    cv2.line(image, at(0, 0), at(1, 1), (180, 180, 180), 1, cv2.LINE_AA)
    points = np.array([at(x, y) for x, y in zip(fpr, tpr, strict=True)], np.int32)
    cv2.polylines(image, [points], False, (31, 119, 180), 2, cv2.LINE_AA)
    font = cv2.FONT_HERSHEY_SIMPLEX
    x0, y0 = at(0, 0)
    cv2.putText(image, "false-reject rate (good parts)", (x0 + 60, y0 + 38), font, 0.5, 0, 1)
    cv2.putText(image, "catch rate (defective parts)", (8, 20), font, 0.5, 0, 1)
    auc = "n/a" if summary.image_auroc is None else f"{summary.image_auroc:.4f}"
    cv2.putText(image, f"AUROC {auc}", at(0.55, 0.06), font, 0.6, (31, 119, 180), 2)
    model_point = (summary.false_reject_rate, 1.0 - summary.escape_rate)
    if all(math.isfinite(v) for v in model_point):
        # Label the operating point itself: a separate legend circle reads as data.
        frr, catch = model_point
        x, y = at(frr, catch)
        cv2.circle(image, (x, y), 6, (214, 39, 40), 2, cv2.LINE_AA)
        label = f"threshold in force: {100 * frr:.1f} % FRR, {100 * catch:.1f} % caught"
        label_y = min(max(y + 4, 40), at(0, 0)[1] - 30)
        cv2.putText(image, label, (x + 12, label_y), font, 0.42, (214, 39, 40), 1, cv2.LINE_AA)
    return image


def _select_examples(images: Sequence[Evaluated]) -> dict[str, list[Evaluated]]:
    """The worst escapes and false rejects, and the clearest catches, a few of each."""
    escapes = [i for i in images if i.defect_class != "good" and i.verdict == Verdict.ACCEPT]
    false_rejects = [i for i in images if i.defect_class == "good" and i.verdict != Verdict.ACCEPT]
    catches = [i for i in images if i.defect_class != "good" and i.verdict != Verdict.ACCEPT]
    n = EXAMPLES_PER_KIND
    return {
        "escapes": sorted(escapes, key=lambda i: i.score)[:n],
        "false rejects": sorted(false_rejects, key=lambda i: -i.score)[:n],
        "catches": _spread(sorted(catches, key=lambda i: i.defect_class), n),
    }


def _spread(items: list[Evaluated], n: int) -> list[Evaluated]:
    if len(items) <= n:
        return items
    return [items[round(k * (len(items) - 1) / (n - 1))] for k in range(n)]


def render_example(item: Evaluated, threshold: float) -> np.ndarray | None:
    """The live view's overlay of one image, plus the ground-truth outline in green."""
    try:
        image = read_image(item.path)
    except SourceError:
        return None
    height, width = image.shape[:2]
    # The heat says how far over the threshold a spot is: draw the map the defects were
    # cut from, not the localisation map (``anomaly_map`` here) that the metrics use.
    drawn = item.anomaly_map if item.overlay_map is None else item.overlay_map
    amap = cv2.resize(drawn.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    frame = Frame(image, "evaluation", 0, 0.0, datetime.now(UTC), origin=str(item.path), truth=None)
    inspection = Inspection(
        frame, item.verdict, item.score, threshold, item.defects, amap, "", "", 0.0, 0.0
    )
    # The verdict bar is added after the ground truth is outlined (render_overlay's bar is
    # stacked above the tile the same way).
    scene = render_overlay(inspection, scale=max(1.0, 256 / max(height, width)), banner=False)
    if item.mask is not None and item.mask.any():
        mask = cv2.resize(
            item.mask.astype(np.uint8), scene.shape[1::-1], interpolation=cv2.INTER_NEAREST
        )
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(scene, contours, -1, GT_COLOR, 1, cv2.LINE_AA)
    return verdict_above(scene, inspection)


def _acceptance_data(acceptance: Acceptance) -> dict[str, Any]:
    """``report.json``'s ``acceptance``: limits, verdict, counts, the threshold to set and
    the verdict in words."""
    return {
        **asdict(acceptance.criteria),
        **{k: v for k, v in asdict(acceptance).items() if k != "criteria"},
        "false_reject_rate": rate_of(acceptance.false_rejects),
        "escape_rate": rate_of(acceptance.escapes),
        "said": acceptance_lines(acceptance),
    }


def write_evaluation_report(
    run: EvaluationLike,
    summary: QualitySummary,
    out_dir: str | Path,
    acceptance: Acceptance | None = None,
) -> Path:
    """Write ``report.json``, ``report.html``, ``report.pdf``, ``roc.png``, ``scores.png`` and
    ``examples/*.png``.

    Returns:
        The path of ``report.html``.
    """
    out = Path(out_dir)
    (out / "examples").mkdir(parents=True, exist_ok=True)
    data = report_data(run, summary, acceptance)
    (out / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "roc.png").unlink(missing_ok=True)  # an earlier run's curve must not stand in
    if data["roc"] is not None:
        roc = draw_roc(summary, np.array(data["roc"]["fpr"]), np.array(data["roc"]["tpr"]))
        cv2.imwrite(str(out / "roc.png"), cv2.cvtColor(roc, cv2.COLOR_RGB2BGR))
    points = [
        (f"{percent_or_na(p.false_reject_rate)} false rejects", p.threshold)
        for p in summary.operating_points
    ]
    chart = draw_score_distribution(
        [i.score for i in run.images],
        [i.defect_class for i in run.images],
        summary.threshold,
        points,
    )
    save_score_distribution(chart, out / "scores.png")
    examples: dict[str, list[tuple[str, Evaluated]]] = {}
    for kind, items in _select_examples(run.images).items():
        examples[kind] = []
        for n, item in enumerate(items):
            scene = render_example(item, summary.threshold)
            if scene is None:
                continue
            name = f"examples/{kind.replace(' ', '_')}_{n:02d}.png"
            if cv2.imwrite(str(out / name), cv2.cvtColor(scene, cv2.COLOR_RGB2BGR)):
                examples[kind].append((name, item))
            else:  # a full disk, or a path OpenCV cannot write: the page shows no broken image
                log.warning("example overlay %s not written: left out of the report", out / name)
    page = out / "report.html"
    page.write_text(evaluation_html(data, summary, examples), encoding="utf-8")
    try:
        write_evaluation_pdf(out, data, summary, examples)
    except (OSError, ValueError) as exc:  # the figures stand in report.json and the page
        (out / "report.pdf").unlink(missing_ok=True)  # no record of an earlier run beside them
        log.warning("report.pdf not written (%s): report.json and report.html are complete", exc)
    return page
