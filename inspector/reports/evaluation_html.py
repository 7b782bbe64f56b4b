"""The evaluation report's HTML page: the figures of ``report.json`` laid out for a validation file.

Apart from :mod:`inspector.reports.evaluation_report` (which computes the
figures and writes the files) so the page's layout can change without
touching a figure. Reads the summary and the JSON data only.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from inspector.core.verdict import Verdict
from inspector.reports.figure_text import number_or_na, percent_or_na
from inspector.reports.page_style import page_head
from inspector.reports.rate_interval import counted

if TYPE_CHECKING:
    from inspector.reports.evaluation_report import Evaluated, QualitySummary

_EXTRA_CSS = (
    "figure img { max-height: 260px; } "
    ".pass { color: #fff; background: #2e7d32; padding: 0 .4em; } "
    ".fail { color: #fff; background: #c62828; padding: 0 .4em; }"
)
"""This page's rules after the shared look."""


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


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    return "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in pairs
    )


def _trained_on(training: dict[str, Any]) -> str:
    """Where the model's good images came from, and their fingerprint when recorded."""
    source = str(training.get("source", "?"))
    fingerprint = training.get("fingerprint")
    return f"{source} (fingerprint {fingerprint})" if fingerprint else source


def _acceptance_section(acceptance: dict[str, Any] | None) -> str:
    """PASS or FAIL against the run's acceptance criteria, and what it rests on ("" for none)."""
    if not acceptance:
        return ""
    mark = "pass" if acceptance["passed"] else "fail"
    said = "".join(f"<li>{html.escape(line.strip())}</li>" for line in acceptance["said"])
    return (
        f'<h2>Acceptance criteria: <span class="{mark}">{mark.upper()}</span></h2>'
        f"<ul>{said}</ul><p>Judged on the observed rates; their 95 % intervals are in the "
        "results below.</p>"
    )


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


def evaluation_html(
    data: dict[str, Any],
    summary: QualitySummary,
    examples: dict[str, list[tuple[str, Evaluated]]],
) -> str:
    model, rules, dataset = data["model"], data["rules"], data["data"]
    model_rows = [
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
    counts = ", ".join(f"{k} {v}" for k, v in summary.class_counts.items())
    data_rows = [
        ("folder", dataset.get("dir_resolved", dataset["dir"])),
        *(
            [("fingerprint (SHA-256 of every image, mask, class and path)", fp)]
            if (fp := dataset.get("fingerprint"))
            else []
        ),
        ("images", f"{dataset['images']} ({counts})"),
        ("with masks (pixel metrics)", str(dataset["pixel_images"])),
        ("unreadable", str(len(dataset["unreadable"]))),
        (
            "lit unlike the model's good parts (fail-safe verdict, as on the line)",
            str(len(dataset.get("lit_unlike_good_parts", []))),
        ),
    ]
    metric_rows = [
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
    class_rows = "\n".join(
        _class_row(name, counts, summary) for name, counts in summary.verdicts_by_class.items()
    )
    sections = []
    for kind, items in examples.items():
        figures = "".join(
            f'<figure><img src="{html.escape(name)}" alt="{html.escape(kind)}">'
            f"<figcaption>{html.escape(item.path.name)} ({html.escape(item.defect_class)})"
            f"<br>score {item.score:.4g}, {item.verdict.value}</figcaption></figure>"
            for name, item in items
        )
        sections.append(
            f"<h3>{html.escape(kind.capitalize())} ({len(items)} shown)</h3>"
            f"<div class=examples>{figures or '<p>none</p>'}</div>"
        )
    roc = '<img src="roc.png" alt="ROC curve">' if data["roc"] is not None else "<p>n/a</p>"
    head = page_head(f"Evaluation of {model['version']}", _EXTRA_CSS)
    return f"""{head}
<h1>Model evaluation report</h1>
<p>Generated {html.escape(data["created_at"])} by <code>inspector evaluate</code> in
{data["seconds"]} s. Verdicts come from the live line's own inference and decision path.</p>
<h2>Model</h2><table>{_rows(model_rows)}</table>
<h2>Data</h2><table>{_rows(data_rows)}</table>
{_acceptance_section(data.get("acceptance"))}
<h2>Results</h2><table>{_rows(metric_rows)}</table>
<p>Rates at the threshold count every part, a part the model could not score with its
fail-safe verdict; the rates at a false-reject rate count the parts with a finite score.
Intervals are exact (Clopper&ndash;Pearson) binomial intervals.</p>
<h2>Verdicts per class (at the threshold in force)</h2>
<p>For good parts the rate is the false-reject rate, for defect classes the escape rate.
Pixel AUROC per class: that class's defect pixels against the defect-free pixels of its own
images and of the good images (the map shown to operators).</p>
<table><tr><th>class</th><th>images</th><th>accept</th><th>review</th><th>reject</th>
<th>rate</th><th>pixel AUROC</th></tr>{class_rows}</table>
<h2>Score distribution</h2>
<p>One dot per image. Solid line: the threshold in force; dashed: the thresholds that
reject {" and ".join(percent_or_na(p.false_reject_rate) for p in summary.operating_points) or "n/a"}
of the good parts.</p>
<img src="scores.png" alt="score distribution by class">
<h2>ROC curve</h2>{roc}
<h2>Examples</h2>
<p>Heat map and red outlines: what the model found; green outline: the ground-truth defect.</p>
{"".join(sections)}
<p>Every image's score and verdict is listed in <code>report.json</code>.</p>
</body></html>
"""


def _class_row(name: str, counts: dict[str, int], summary: QualitySummary) -> str:
    """One row of the verdicts-per-class table."""
    if name == "good":
        rate = summary.false_reject_rate
    else:
        rate = summary.escape_by_class.get(name, float("nan"))
    cells = [
        html.escape(name),
        str(sum(counts.values())),
        *(str(counts.get(v.value, 0)) for v in (Verdict.ACCEPT, Verdict.REVIEW, Verdict.REJECT)),
        percent_or_na(rate),
        number_or_na(summary.pixel_auroc_by_class.get(name)),
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
