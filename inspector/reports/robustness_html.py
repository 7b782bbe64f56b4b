"""The HTML page of the robustness report, built from the data of ``robustness.json``.

One page a quality engineer can read before promoting a model: which
corruption at what strength costs how much, shown as tables (cells worse
than the clean baseline by more than a tolerance are shaded), plots and
example images, and how small a pixel change lets a defective part through.
Kept apart from :mod:`inspector.reports.robustness_report` (figures and files)
so each stays short; it reads only the JSON-ready dictionary, so the page
shows exactly what the file holds.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Protocol

from inspector.reports.figure_text import number_or_na, percent_or_na
from inspector.reports.page_style import page_head
from inspector.reports.robustness_classifier import ATTACK_PLOT, classifier_attacks_html

_EXTRA_CSS = "td.worse { background: #f8d7da; } figure img { max-height: 220px; }"
"""This page's rules after the shared look."""

AUROC_TOLERANCE = 0.02
"""AUROC lower than clean by more than this is shaded as worse."""
RATE_TOLERANCE = 0.05
"""False-reject or escape rates higher than clean by more than this are shaded."""
METRICS = (
    ("image_auroc", "Image AUROC"),
    ("escape_rate", "Escape rate (defective parts accepted)"),
    ("false_reject_rate", "False-reject rate (good parts not accepted)"),
)


class Shown(Protocol):
    """An example image as the page captions it."""

    defect_class: str
    corruption: str
    severity: int
    level: float
    score: float
    accepted: bool


def _cell(metric: str, value: float | None) -> str:
    return number_or_na(value, 3) if metric == "image_auroc" else percent_or_na(value)


def _worse(metric: str, value: float | None, clean: float | None) -> bool:
    if value is None or clean is None:
        return False
    if metric == "image_auroc":
        return value < clean - AUROC_TOLERANCE
    return value > clean + RATE_TOLERANCE


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    return "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in pairs
    )


def _results_table(data: dict[str, Any], metric: str) -> str:
    clean = data["clean"][metric]
    severities = sorted({c["severity"] for c in data["conditions"]})
    head = "".join(f"<th>severity {s}</th>" for s in severities)
    rows = []
    for name in data["corruptions"]:
        cells = []
        for severity in severities:
            found = [
                c
                for c in data["conditions"]
                if c["corruption"] == name and c["severity"] == severity
            ]
            value = found[0][metric] if found else None
            shade = ' class="worse"' if _worse(metric, value, clean) else ""
            cells.append(f"<td{shade}>{_cell(metric, value)}</td>")
        rows.append(
            f"<tr><th>{html.escape(name)}</th><td>{_cell(metric, clean)}</td>{''.join(cells)}</tr>"
        )
    return f"<table><tr><th>corruption</th><th>clean</th>{head}</tr>{''.join(rows)}</table>"


def _corruption_table(data: dict[str, Any]) -> str:
    rows = []
    for name, spec in data["corruptions"].items():
        levels = "".join(f"<td>{level:g}</td>" for level in spec["levels"])
        rows.append(
            f"<tr><th>{html.escape(name)}</th><td>{html.escape(str(spec['parameter']))}</td>"
            f"<td>{html.escape(str(spec['unit']))}</td>{levels}</tr>"
        )
    head = "".join(f"<th>{s}</th>" for s in range(1, 6))
    return (
        "<table><tr><th>corruption</th><th>parameter</th><th>unit</th>"
        f"{head}</tr>{''.join(rows)}</table>"
    )


def _verdict(accepted: bool) -> str:
    return "accepted" if accepted else "rejected"


def _examples(examples: Sequence[tuple[str, Shown]], units: dict[str, str]) -> str:
    figures = []
    for name, e in examples:
        what = (
            "clean"
            if e.corruption == "clean"
            else (
                f"{e.corruption} {e.level:g} {units.get(e.corruption, '')} (severity {e.severity})"
            )
        )
        figures.append(
            f'<figure><img src="{html.escape(name)}" alt="{html.escape(what)}">'
            f"<figcaption>{html.escape(what)}<br>score {e.score:.4g}, {_verdict(e.accepted)}"
            "</figcaption></figure>"
        )
    if not figures:
        return "<p>No defective image was scored, so there are no examples.</p>"
    first = examples[0][1]
    return (
        f"<p>One defective part ({html.escape(first.defect_class)}) as the model saw it: the "
        "one with the median clean score among those the model catches (among all defective "
        "parts if it catches none).</p>"
        f"<div class=examples>{''.join(figures)}</div>"
    )


def _adversarial(data: dict[str, Any], example: dict[str, Any] | None) -> str:
    adv = data["adversarial"]
    parts = [f"<p>{html.escape(adv['note'])}.</p>"]
    if adv["status"] != "done":
        return "".join(parts)
    target = number_or_na(adv["target_score"], 4)
    parts.append(
        f"<p>A part is accepted when its score is below {target} (the review floor of the "
        f"rules). Median smallest perturbation: <b>{html.escape(adv['median_epsilon_text'])}"
        "</b> grey levels.</p>"
    )
    rows = "".join(
        f"<tr><td>{html.escape(i['path'].rsplit('/', 1)[-1])}</td><td>{html.escape(i['class'])}"
        f"</td><td>{number_or_na(i['clean_score'])}</td><td>{html.escape(i['epsilon_text'])}</td>"
        f"<td>{number_or_na(i['adversarial_score'])}</td></tr>"
        for i in adv["images"]
    )
    parts.append(
        "<table><tr><th>image</th><th>class</th><th>clean score</th>"
        "<th>smallest epsilon (grey levels)</th><th>score perturbed</th></tr>"
        f"{rows}</table>"
    )
    if example is not None:
        parts.append(
            f"<p>{html.escape(example['path'])} ({html.escape(example['class'])}): score "
            f"{example['clean_score']:.4g} clean, {example['score']:.4g} with a perturbation of "
            f"at most {example['epsilon']} grey levels; the difference is shown "
            f"{example['gain']:.0f}x amplified around mid-grey.</p><div class=examples>"
            + "".join(
                f'<figure><img src="examples/adversarial_{n}.png" alt="{n}">'
                f"<figcaption>{n}</figcaption></figure>"
                for n in ("clean", "perturbed", "difference")
            )
            + "</div>"
        )
    return "".join(parts)


def _kind(kind: str) -> str:
    if kind == "classifier":
        return (
            "defect classifier: the score is the defect probability 1 - P(good), a part is "
            "accepted below 0.5"
        )
    return "anomaly model: the score is the image anomaly score"


def robustness_html(
    data: dict[str, Any],
    examples: Sequence[tuple[str, Shown]],
    adversarial_example: dict[str, Any] | None,
) -> str:
    """The page, from ``robustness.json``'s data, the example files and the attack shown."""
    model, rules, dataset, summary = data["model"], data["rules"], data["data"], data["summary"]
    counts = ", ".join(f"{k} {v}" for k, v in dataset["class_counts"].items())
    sample = (
        f"all {dataset['images_available']}"
        if dataset["max_images"] is None
        else f"{dataset['images']} of {dataset['images_available']}, stratified per class "
        f"(seed {dataset['seed']})"
    )
    model_rows = [
        ("version", model["version"]),
        ("kind", _kind(model.get("kind", "anomaly"))),
        ("folder", model["dir"]),
        ("backend", model["backend"]),
        *((f"SHA-256 {name}", sha) for name, sha in model["files_sha256"].items()),
        ("device", data["device"]),
        (f"threshold (rules {rules['version']})", number_or_na(rules["threshold"], 6)),
    ]
    data_rows = [
        ("folder", dataset["dir"]),
        ("images", f"{dataset['images']} ({counts})"),
        ("sample", sample),
        ("unreadable", str(len(dataset["unreadable"]))),
    ]

    def extreme(key: str, show: Any) -> str:
        found = summary[key]
        if found is None:
            return "n/a"
        return f"{show(found['value'])} ({found['corruption']}, severity {found['severity']})"

    summary_rows = [
        ("clean image AUROC", number_or_na(summary["clean_image_auroc"])),
        (
            "clean false-reject / escape rate",
            f"{percent_or_na(summary['clean_false_reject_rate'])} / "
            f"{percent_or_na(summary['clean_escape_rate'])}",
        ),
        ("mean image AUROC under corruption", number_or_na(summary["mean_image_auroc"])),
        ("lowest image AUROC", extreme("min_image_auroc", number_or_na)),
        ("highest escape rate", extreme("max_escape_rate", percent_or_na)),
        ("highest false-reject rate", extreme("max_false_reject_rate", percent_or_na)),
        (
            "adversarial: median smallest epsilon (grey levels)",
            data["adversarial"]["median_epsilon_text"],
        ),
        ("adversarial: parts made to escape", summary["adversarial_escapes"]),
    ]
    tables = "".join(
        f"<h3>{html.escape(title)}</h3>{_results_table(data, key)}" for key, title in METRICS
    )
    plots = "".join(f'<img src="{key}.png" alt="{html.escape(title)}">' for key, title in METRICS)
    units = {name: str(spec["unit"]) for name, spec in data["corruptions"].items()}
    head = page_head(f"Robustness of {model['version']}", _EXTRA_CSS)
    return f"""{head}
<h1>Model robustness report</h1>
<p>Generated {html.escape(data["created_at"])} by <code>inspector robustness</code> in
{data["seconds"]} s. Every image went through the live line's own inference and decision
path, clean and under each corruption; rates are at the model's own threshold.</p>
<h2>Model</h2><table>{_rows(model_rows)}</table>
<h2>Data</h2><table>{_rows(data_rows)}</table>
<h2>Summary</h2><table>{_rows(summary_rows)}</table>
<h2>Corruptions and their strength at each severity</h2>{_corruption_table(data)}
<h2>Results</h2>
<p>Shaded: worse than on clean images by more than {AUROC_TOLERANCE} AUROC or
{100 * RATE_TOLERANCE:.0f} percentage points.</p>
{tables}
<h2>Plots</h2>{plots}
<h2>Examples</h2>{_examples(examples, units)}
<h2>Adversarial perturbations</h2>{_adversarial(data, adversarial_example)}
{classifier_attacks_html(data.get("classifier_attacks"), ATTACK_PLOT)}
<p>Every image's score under every condition is in <code>robustness.json</code>.</p>
</body></html>
"""
