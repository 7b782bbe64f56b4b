"""The side-by-side report of a candidate model against production, and its one-word verdict.

Both columns come from :func:`inspector.reports.evaluation_report.summarize`
over evaluations of the same images, so every figure means exactly what it
means in an ``evaluate`` report. The verdict weighs what the line feels:
escapes and false rejects at each model's own threshold, escapes at 1 %
false rejects (the threshold an engineer could pick), image AUROC, and the
escapes of each defect class (a class that escapes more makes the verdict
``mixed`` at best, even when the totals improve).

This module sits in ``reports`` and reads the evaluations through
:class:`~inspector.reports.evaluation_report.EvaluationLike`, never through
``training``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import cv2

from inspector.core.verdict import Verdict
from inspector.reports.compare_verdict import AUROC_TOLERANCE, Figure, weigh, whole_image
from inspector.reports.evaluation_report import (
    Evaluated,
    EvaluationLike,
    QualitySummary,
    render_example,
    summarize,
)
from inspector.reports.figure_text import number_or_na, percent_or_na
from inspector.reports.page_style import page_head

_EXTRA_CSS = "td img { max-height: 160px; margin: 2px; }"
"""This page's rules after the shared look."""

SCHEMA = "inspector-compare/1"
DISAGREEMENT_EXAMPLES = 8


@dataclass(frozen=True)
class Disagreement:
    """An image the two models would send to different bins (accept vs. reject/review)."""

    path: Path
    defect_class: str
    new_score: float
    new_verdict: Verdict
    baseline_score: float
    baseline_verdict: Verdict

    @property
    def new_is_right(self) -> bool:
        """Whether the candidate's bin matches the image's label."""
        return (self.new_verdict == Verdict.ACCEPT) == (self.defect_class == "good")


@dataclass(frozen=True)
class ComparisonSummary:
    """Both models' figures, where they disagree, and the verdict.

    Attributes:
        verdict: ``better``, ``worse``, ``mixed`` (better on some figures, worse
            on others) or ``same`` (no figure differs).
        reasons: One phrase per figure that differs, e.g. ``escapes 12.0 % -> 8.0 %``.
    """

    new: QualitySummary
    baseline: QualitySummary
    disagreements: tuple[Disagreement, ...]
    verdict: str
    reasons: tuple[str, ...]


def compare_runs(new: EvaluationLike, baseline: EvaluationLike) -> ComparisonSummary:
    """Summarise both runs and decide whether the candidate is better.

    Raises:
        ValueError: the runs are not over the same images.
    """
    if [i.path for i in new.images] != [i.path for i in baseline.images]:
        msg = "the two evaluations are not over the same images: run both on the same folder"
        raise ValueError(msg)
    ours = summarize(new.images, new.rules.threshold)
    theirs = summarize(baseline.images, baseline.rules.threshold)
    disagreements = tuple(
        _disagreement(a, b)
        for a, b in zip(new.images, baseline.images, strict=True)
        if (a.verdict == Verdict.ACCEPT) != (b.verdict == Verdict.ACCEPT)
    )
    verdict, reasons = _verdict(ours, theirs, len(new.images))
    return ComparisonSummary(ours, theirs, disagreements, verdict, reasons)


class Decided(Protocol):
    """A comparison's outcome, of anomaly models or of classifiers."""

    verdict: str
    reasons: tuple[str, ...]


def verdict_line(summary: Decided, new_version: str, baseline_version: str) -> str:
    """The one line for the terminal."""
    why = "; ".join(summary.reasons) if summary.reasons else "no figure differs"
    return f"{summary.verdict}: {new_version} vs {baseline_version}: {why}"


def _disagreement(a: Evaluated, b: Evaluated) -> Disagreement:
    return Disagreement(a.path, a.defect_class, a.score, a.verdict, b.score, b.verdict)


def _escape_at_one_percent(summary: QualitySummary) -> float | None:
    for point in summary.operating_points:
        if math.isclose(point.false_reject_rate, 0.01):
            return point.escape_rate
    return None


def _verdict(
    new: QualitySummary, baseline: QualitySummary, images: int
) -> tuple[str, tuple[str, ...]]:
    """Lower is better for the rates, higher for AUROC; a rate moves only by whole images.

    The figures: escapes and false rejects at each model's threshold, escapes
    at 1 % false rejects, image AUROC, and the escapes of each defect class.
    """
    figures = [
        Figure("escapes", new.escape_rate, baseline.escape_rate, False, whole_image(images)),
        Figure(
            "false rejects",
            new.false_reject_rate,
            baseline.false_reject_rate,
            False,
            whole_image(images),
        ),
        Figure(
            "escapes at 1 % false rejects",
            _escape_at_one_percent(new),
            _escape_at_one_percent(baseline),
            False,
            whole_image(images),
        ),
        Figure("image AUROC", new.image_auroc, baseline.image_auroc, True, AUROC_TOLERANCE, False),
    ]
    # A class that escapes more is a regression even when the totals improve.
    figures += [
        Figure(
            f"{name} escapes",
            rate,
            baseline.escape_by_class.get(name),
            False,
            whole_image(new.class_counts.get(name, 1)),
        )
        for name, rate in new.escape_by_class.items()
    ]
    return weigh(figures)


def _side(run: EvaluationLike, summary: QualitySummary) -> dict[str, Any]:
    return {
        "version": run.model_version,
        "dir": str(run.model_dir),
        "files_sha256": dict(run.model_files),
        "device": run.device,
        "rules_version": run.rules.version,
        "metrics": asdict(summary),
        "seconds": round(run.seconds, 2),
    }


def described_data(data: Mapping[str, Any]) -> str:
    """The compared folder for a report's opening line (HTML): images, folder, fingerprint."""
    text = f"{data['images']} images of {html.escape(str(data['dir']))}"
    fingerprint = data.get("fingerprint")
    return (
        text if not fingerprint else f"{text} (fingerprint <code>{html.escape(fingerprint)}</code>)"
    )


class _Compared(Protocol):
    data_dir: Path
    images: Sequence[object]
    unreadable: Sequence[str]
    data_fingerprint: str | None


def compare_header(
    new: _Compared,
    baseline: _Compared,
    verdict: str,
    reasons: Sequence[str],
    class_counts: Mapping[str, int],
) -> dict[str, Any]:
    """The part of ``compare.json`` every comparison shares: schema, time, verdict, data."""
    return {
        "schema": SCHEMA,
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "verdict": verdict,
        "reasons": list(reasons),
        "data": {
            "dir": str(new.data_dir),
            "fingerprint": new.data_fingerprint,
            "images": len(new.images),
            "class_counts": dict(class_counts),
            "unreadable": sorted(set(new.unreadable) | set(baseline.unreadable)),
        },
    }


def compare_data(
    new: EvaluationLike, baseline: EvaluationLike, summary: ComparisonSummary
) -> dict[str, Any]:
    """Everything in ``compare.json`` (no NaN: figures that cannot be computed are null)."""
    data = {
        **compare_header(new, baseline, summary.verdict, summary.reasons, summary.new.class_counts),
        "new": _side(new, summary.new),
        "baseline": _side(baseline, summary.baseline),
        "disagreements": [
            {
                "path": str(d.path),
                "class": d.defect_class,
                "new": {"score": d.new_score, "verdict": d.new_verdict.value},
                "baseline": {"score": d.baseline_score, "verdict": d.baseline_verdict.value},
                "new_is_right": d.new_is_right,
            }
            for d in summary.disagreements
        ],
    }
    return _finite(data)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_compare_report(
    new: EvaluationLike, baseline: EvaluationLike, summary: ComparisonSummary, out_dir: str | Path
) -> Path:
    """Write ``compare.json``, ``compare.html`` and overlays of disagreements; returns the HTML."""
    out = Path(out_dir)
    (out / "disagreements").mkdir(parents=True, exist_ok=True)
    data = compare_data(new, baseline, summary)
    (out / "compare.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    by_path = {i.path: i for i in new.images}, {i.path: i for i in baseline.images}
    pictures: dict[Path, tuple[str, str]] = {}
    for n, item in enumerate(summary.disagreements[:DISAGREEMENT_EXAMPLES]):
        names = []
        for side, images, threshold in (
            ("new", by_path[0], summary.new.threshold),
            ("baseline", by_path[1], summary.baseline.threshold),
        ):
            scene = render_example(images[item.path], threshold)
            name = f"disagreements/{n:02d}_{side}.png"
            if scene is not None:
                cv2.imwrite(str(out / name), cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))
            names.append(name if scene is not None else "")
        pictures[item.path] = (names[0], names[1])
    page = out / "compare.html"
    page.write_text(_html(data, summary, pictures), encoding="utf-8")
    return page


def _metric_rows(new: QualitySummary, baseline: QualitySummary) -> list[tuple[str, str, str]]:
    rows = [
        ("image AUROC", number_or_na(new.image_auroc), number_or_na(baseline.image_auroc)),
        ("pixel AUROC", number_or_na(new.pixel_auroc), number_or_na(baseline.pixel_auroc)),
        (
            "threshold (each model's own)",
            number_or_na(new.threshold, 6),
            number_or_na(baseline.threshold, 6),
        ),
        (
            "false-reject rate at threshold",
            percent_or_na(new.false_reject_rate),
            percent_or_na(baseline.false_reject_rate),
        ),
        (
            "escape rate at threshold",
            percent_or_na(new.escape_rate),
            percent_or_na(baseline.escape_rate),
        ),
    ]
    for ours, theirs in zip(new.operating_points, baseline.operating_points, strict=True):
        rows.append(
            (
                f"escape rate at {percent_or_na(ours.false_reject_rate)} false rejects",
                f"{percent_or_na(ours.escape_rate)} (threshold {number_or_na(ours.threshold)})",
                f"{percent_or_na(theirs.escape_rate)} (threshold {number_or_na(theirs.threshold)})",
            )
        )
    rows.append(
        (
            "mean inference time per image",
            f"{new.latency_ms_mean:.1f} ms",
            f"{baseline.latency_ms_mean:.1f} ms",
        )
    )
    for name in new.escape_by_class:
        rows.append(
            (
                f"escapes: {name} ({new.class_counts.get(name, 0)} images)",
                percent_or_na(new.escape_by_class.get(name)),
                percent_or_na(baseline.escape_by_class.get(name)),
            )
        )
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _html(
    data: dict[str, Any], summary: ComparisonSummary, pictures: dict[Path, tuple[str, str]]
) -> str:
    new, baseline = data["new"], data["baseline"]
    metrics = _table(
        ("figure", f"new: {new['version']}", f"baseline: {baseline['version']}"),
        _metric_rows(summary.new, summary.baseline),
    )
    rows = []
    for d in summary.disagreements:
        shown = pictures.get(d.path, ("", ""))
        images = "".join(
            f'<img src="{html.escape(name)}" alt="overlay">' if name else "" for name in shown
        )
        rows.append(
            f"<tr><td>{html.escape(d.path.name)}</td><td>{html.escape(d.defect_class)}</td>"
            f"<td>{d.new_verdict.value} ({d.new_score:.4g})</td>"
            f"<td>{d.baseline_verdict.value} ({d.baseline_score:.4g})</td>"
            f"<td>{'new' if d.new_is_right else 'baseline'}</td><td>{images}</td></tr>"
        )
    disagreements = (
        "<table><tr><th>image</th><th>class</th><th>new</th><th>baseline</th>"
        "<th>right</th><th>overlays (new, baseline)</th></tr>" + "\n".join(rows) + "</table>"
        if rows
        else "<p>none: both models send every image to the same bin</p>"
    )
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in summary.reasons) or "<li>none</li>"
    head = page_head(f"{new['version']} vs {baseline['version']}", _EXTRA_CSS)
    return f"""{head}
<h1>Model comparison: <em>{html.escape(summary.verdict)}</em></h1>
<p>Generated {html.escape(data["created_at"])} by <code>inspector compare</code> on
{described_data(data["data"])}; each model at its own
calibrated threshold, through the live line's own inference and decision path.</p>
<ul>{reasons}</ul>
<h2>Figures</h2>{metrics}
<h2>Images where they disagree ({len(summary.disagreements)})</h2>{disagreements}
<p>Every figure and each disagreement is in <code>compare.json</code>.</p>
</body></html>
"""
