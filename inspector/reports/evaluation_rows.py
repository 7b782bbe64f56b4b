"""The evaluation report's tables as plain text rows, for every form the report takes.

The HTML page and the PDF lay out the same rows (model, data, results, verdicts
per class), so a validation file and the page beside it can never disagree.
Reads the summary and the ``report.json`` data only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inspector.core.verdict import Verdict
from inspector.reports.figure_text import number_or_na, percent_or_na
from inspector.reports.rate_interval import counted

if TYPE_CHECKING:
    from inspector.reports.evaluation_report import QualitySummary

CLASS_HEADER = ("class", "images", "accept", "review", "reject", "rate", "pixel AUROC")
"""Columns of the verdicts-per-class table."""

Row = tuple[str, str]


@dataclass(frozen=True)
class EvaluationRows:
    """The report's tables: (label, value) rows, and the per-class table's cells."""

    model: list[Row]
    data: list[Row]
    results: list[Row]
    classes: list[list[str]]


def evaluation_rows(data: dict[str, Any], summary: QualitySummary) -> EvaluationRows:
    """Every table of an evaluation report, from ``report.json``'s data and the summary."""
    classes = [
        _class_row(name, counts, summary) for name, counts in summary.verdicts_by_class.items()
    ]
    return EvaluationRows(
        _model_rows(data),
        _data_rows(data["data"], summary),
        _result_rows(data["rules"], summary),
        classes,
    )


def _model_rows(data: dict[str, Any]) -> list[Row]:
    """The model evaluated: its files, method, training and where it ran."""
    model = data["model"]
    return [
        ("version", model["version"]),
        ("folder", model["dir"]),
        *((f"SHA-256 {name}", sha) for name, sha in model["files_sha256"].items()),
        ("backbone SHA-256", str(model.get("backbone_sha256", ""))),
        (
            "method",
            f"{model.get('kind')} on {model.get('backbone') or '?'}, layers {model.get('layers')}, "
            f"{model.get('input_size')} px, bank {model.get('bank_size')} "
            f"x {model.get('feature_dim')}, sigma {model.get('sigma')}, "
            f"grey levels {model.get('exposure', 'as-captured')}",
        ),
        *([("branches", _settings(model["branches"]))] if model.get("branches") else []),
        *_head_row(model.get("training", {}).get("localisation_head")),
        ("trained on", _trained_on(model.get("training", {}))),
        ("device", data["device"]),
        ("software", ", ".join(f"{k} {v}" for k, v in data.get("software", {}).items())),
    ]


def _data_rows(dataset: dict[str, Any], summary: QualitySummary) -> list[Row]:
    """The set measured: where, its fingerprint, what it holds."""
    counts = ", ".join(f"{k} {v}" for k, v in summary.class_counts.items())
    return [
        ("folder", dataset.get("dir_resolved", dataset["dir"])),
        *(
            [("fingerprint (SHA-256 of every image, mask, class and path)", fp)]
            if (fp := dataset.get("fingerprint"))
            else []
        ),
        ("images", f"{dataset['images']} ({counts})"),
        ("with masks (pixel metrics)", _pixel_images(dataset)),
        ("unreadable", str(len(dataset["unreadable"]))),
        (
            "lit unlike the model's good parts (fail-safe verdict, as on the line)",
            str(len(dataset.get("lit_unlike_good_parts", []))),
        ),
    ]


def _pixel_images(dataset: dict[str, Any]) -> str:
    """How many images the pixel metrics used, and on what grid when it was thinned."""
    stride = int(dataset.get("pixel_stride", 1))
    if stride == 1:
        return str(dataset["pixel_images"])
    return (
        f"{dataset['pixel_images']} (sampled: 1 pixel in each {stride} x {stride} block of "
        "their maps, which keeps a large set's memory bounded)"
    )


def _result_rows(rules: dict[str, Any], summary: QualitySummary) -> list[Row]:
    """The figures: separation, rates at the threshold in force and at the operating points."""
    return [
        ("image AUROC", number_or_na(summary.image_auroc)),
        ("pixel AUROC", number_or_na(summary.pixel_auroc)),
        ("AUPRO (FPR <= 0.3, normalised)", number_or_na(summary.aupro)),
        (f"threshold in force (rules {rules['version']})", number_or_na(summary.threshold, 6)),
        (
            "false-reject rate at threshold (good not accepted)",
            percent_or_na(summary.false_reject_rate) + counted(summary.false_reject_interval),
        ),
        (
            "escape rate at threshold (defective accepted)",
            percent_or_na(summary.escape_rate) + counted(summary.escape_interval),
        ),
        *(
            (
                f"escape rate at {percent_or_na(p.false_reject_rate)} false rejects "
                f"(threshold {number_or_na(p.threshold, 6)})",
                percent_or_na(p.escape_rate) + counted(p.escape_interval),
            )
            for p in summary.operating_points
        ),
        ("mean inference time per image", f"{summary.latency_ms_mean:.1f} ms"),
    ]


def _settings(value: object) -> str:
    """Settings as short text: ``k v, k v``, nested ones in parentheses, floats to 4 digits."""
    if isinstance(value, dict):
        parts = []
        for key, inner in value.items():
            text = _settings(inner)
            parts.append(f"{key} ({text})" if isinstance(inner, dict) else f"{key} {text}")
        return ", ".join(parts)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _trained_on(training: dict[str, Any]) -> str:
    """Where the model's good images came from, and their fingerprint when recorded."""
    source = str(training.get("source", "?"))
    fingerprint = training.get("fingerprint")
    return f"{source} (fingerprint {fingerprint})" if fingerprint else source


def _head_row(head: object) -> list[tuple[str, str]]:
    """The localisation head's line of the method table (none for models without one)."""
    if not isinstance(head, dict):
        return []
    kinds = ", ".join(str(kind) for kind in head.get("painted_kinds", []))
    text = (
        f"taught {head.get('epochs')} epochs on synthetic defects ({kinds}) painted on "
        f"{head.get('images')} good images; added to the localisation map (pixel metrics) at "
        f"weight {head.get('weight')}, never to the score"
    )
    return [("localisation head", text)]


def _class_row(name: str, counts: dict[str, int], summary: QualitySummary) -> list[str]:
    """One row of the verdicts-per-class table."""
    if name == "good":
        rate = summary.false_reject_rate
    else:
        rate = summary.escape_by_class.get(name, float("nan"))
    cells = [
        name,
        str(sum(counts.values())),
        *(str(counts.get(v.value, 0)) for v in (Verdict.ACCEPT, Verdict.REVIEW, Verdict.REJECT)),
        percent_or_na(rate),
        number_or_na(summary.pixel_auroc_by_class.get(name)),
    ]
    return cells
