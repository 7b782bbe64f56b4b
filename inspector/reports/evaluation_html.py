"""The evaluation report's HTML page: the figures of ``report.json`` laid out for a validation file.

Apart from :mod:`inspector.reports.evaluation_report` (which computes the
figures and writes the files) so the page's layout can change without
touching a figure. Reads the summary and the JSON data only.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from inspector.reports.evaluation_rows import CLASS_HEADER, evaluation_rows
from inspector.reports.figure_text import percent_or_na
from inspector.reports.page_style import page_head

if TYPE_CHECKING:
    from inspector.reports.evaluation_report import Evaluated, QualitySummary

_EXTRA_CSS = (
    "figure img { max-height: 260px; } "
    ".pass { color: #fff; background: #2e7d32; padding: 0 .4em; } "
    ".fail { color: #fff; background: #c62828; padding: 0 .4em; }"
)
"""This page's rules after the shared look."""


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    return "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in pairs
    )


def _acceptance_section(acceptance: dict[str, Any] | None) -> str:
    """PASS or FAIL against the run's acceptance criteria, and what it rests on ("" for none)."""
    if not acceptance:
        return ""
    mark = "pass" if acceptance["passed"] else "fail"
    said = "".join(f"<li>{html.escape(line.strip())}</li>" for line in acceptance["said"])
    return (
        f'<h2>Acceptance criteria: <span class="{mark}">{mark.upper()}</span></h2>'
        f"<ul>{said}</ul><p>Judged on the observed rates; their 95 % intervals are in the "
        "results.</p>"
    )


def evaluation_html(
    data: dict[str, Any],
    summary: QualitySummary,
    examples: dict[str, list[tuple[str, Evaluated]]],
) -> str:
    model = data["model"]
    rows = evaluation_rows(data, summary)
    class_rows = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows.classes
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
{_acceptance_section(data.get("acceptance"))}
<h2>Model</h2><table>{_rows(rows.model)}</table>
<h2>Data</h2><table>{_rows(rows.data)}</table>
<h2>Results</h2><table>{_rows(rows.results)}</table>
<p>Rates at the threshold count every part, a part the model could not score with its
fail-safe verdict; the rates at a false-reject rate count the parts with a finite score.
Intervals are exact (Clopper&ndash;Pearson) binomial intervals.</p>
<h2>Verdicts per class (at the threshold in force)</h2>
<p>For good parts the rate is the false-reject rate, for defect classes the escape rate.
Pixel AUROC per class: that class's defect pixels against the defect-free pixels of its own
images and of the good images (the map shown to operators).</p>
<table><tr>{"".join(f"<th>{h}</th>" for h in CLASS_HEADER)}</tr>{class_rows}</table>
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
