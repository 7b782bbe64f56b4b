"""The HTML page of a classifier comparison, drawn from its ``compare.json`` data alone.

Rendering only what the file holds keeps the page and the file (which the
Models tab and promotion records read) from ever telling different stories.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from inspector.reports.compare_report import described_data
from inspector.reports.figure_text import number_or_na, percent_or_na
from inspector.reports.page_style import page_head

_EXTRA_CSS = "td img { max-height: 120px; }"
"""This page's rules after the shared look."""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _figure_rows(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    rows = [
        ("accuracy", percent_or_na(new["accuracy"]), percent_or_na(old["accuracy"])),
        ("macro F1", number_or_na(new["macro_f1"]), number_or_na(old["macro_f1"])),
        (
            "good-vs-defect accuracy",
            percent_or_na(new["good_vs_defect_accuracy"]),
            percent_or_na(old["good_vs_defect_accuracy"]),
        ),
        (
            "defect-class accuracy (defective images)",
            percent_or_na(new["defect_class_accuracy"]),
            percent_or_na(old["defect_class_accuracy"]),
        ),
        (
            "escapes (defective called good)",
            percent_or_na(new["escape_rate"]),
            percent_or_na(old["escape_rate"]),
        ),
        (
            "false rejects (good called defective)",
            percent_or_na(new["false_reject_rate"]),
            percent_or_na(old["false_reject_rate"]),
        ),
        (
            "image AUROC of 1 - P(good)",
            number_or_na(new["image_auroc"]),
            number_or_na(old["image_auroc"]),
        ),
        (
            "mean inference time per image",
            f"{new['latency_ms_mean']:.1f} ms",
            f"{old['latency_ms_mean']:.1f} ms",
        ),
    ]
    rows += [
        (f"escapes: {name}", percent_or_na(rate), percent_or_na(old["escape_by_class"].get(name)))
        for name, rate in new["escape_by_class"].items()
    ]
    return rows


def _per_class_rows(
    new: Mapping[str, Any], old: Mapping[str, Any], counts: Mapping[str, int]
) -> list[list[str]]:
    rows = []
    for name in sorted(set(new["per_class"]) | set(old["per_class"])):
        row = [name, str(counts.get(name, 0))]
        for side in (new, old):
            figures = side["per_class"].get(name)
            row += (
                [number_or_na(figures[k]) for k in ("precision", "recall", "f1")]
                if figures
                else ["not a class"] * 3
            )
        rows.append(row)
    return rows


def _confusion(side: Mapping[str, Any]) -> str:
    classes = side["metrics"]["classes"]
    rows = [
        [f"true {name}", *(str(v) for v in row)]
        for name, row in zip(classes, side["metrics"]["confusion"], strict=True)
    ]
    return _table(["", *(f"said {name}" for name in classes)], rows)


def classifier_compare_html(data: Mapping[str, Any], pictures: Mapping[Path, str]) -> str:
    """The page; ``pictures`` maps a disagreement's image to its thumbnail file."""
    new, old = data["new"], data["baseline"]
    counts = data["data"]["class_counts"]
    figures = _table(
        ("figure", f"new: {new['version']}", f"baseline: {old['version']}"),
        _figure_rows(new["metrics"], old["metrics"]),
    )
    per_class = _table(
        ("class", "images", "new precision", "new recall", "new F1")
        + ("baseline precision", "baseline recall", "baseline F1"),
        _per_class_rows(new["metrics"], old["metrics"], counts),
    )
    rows = []
    for d in data["disagreements"]:
        picture = pictures.get(Path(d["path"]))
        image = f'<img src="{html.escape(picture)}" alt="image">' if picture else ""
        rows.append(
            f"<tr><td>{html.escape(Path(d['path']).name)}</td><td>{html.escape(d['class'])}</td>"
            f"<td>{html.escape(d['new']['class'])} ({d['new']['probability']:.2f})</td>"
            f"<td>{html.escape(d['baseline']['class'])} ({d['baseline']['probability']:.2f})</td>"
            f"<td>{html.escape(d['right'])}</td><td>{image}</td></tr>"
        )
    disagreements = (
        "<table><tr><th>image</th><th>class</th><th>new says</th><th>baseline says</th>"
        "<th>right</th><th>image</th></tr>" + "\n".join(rows) + "</table>"
        if rows
        else "<p>none: both classifiers name every image the same</p>"
    )
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in data["reasons"]) or "<li>none</li>"
    notes = "".join(f"<p><strong>Note:</strong> {html.escape(n)}</p>" for n in data["notes"])
    head = page_head(f"{new['version']} vs {old['version']}", _EXTRA_CSS)
    return f"""{head}
<h1>Classifier comparison: <em>{html.escape(data["verdict"])}</em></h1>
<p>Generated {html.escape(data["created_at"])} by <code>inspector compare</code> on
{described_data(data["data"])}; each classifier names the
most probable class, through the classifiers' own inference path. A part called
<code>good</code> is accepted.</p>
{notes}
<ul>{reasons}</ul>
<h2>Figures</h2>{figures}
<h2>Per class</h2>{per_class}
<h2>Confusion matrices</h2>
<h3>new: {html.escape(new["version"])}</h3>{_confusion(new)}
<h3>baseline: {html.escape(old["version"])}</h3>{_confusion(old)}
<h2>Images they name differently ({len(data["disagreements"])})</h2>{disagreements}
<p>Every figure and each disagreement is in <code>compare.json</code>.</p>
</body></html>
"""
