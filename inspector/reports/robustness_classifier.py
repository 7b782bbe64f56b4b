"""The classifier part of the robustness report: accuracy under FGSM and PGD.

A defect classifier is not attacked like an anomaly model (no smallest-escape
search on a score); its figure is the accuracy at each perturbation size, the
usual way to state a classifier's adversarial robustness. This module turns
those results into the ``classifier_attacks`` section of ``robustness.json``
(``null`` for anomaly models, so the schema stays ``inspector-robustness/1``
and older readers simply ignore it), the summary keys a promotion rule can
read, and the HTML section. Like the rest of the report it reads the run
through a protocol and never imports ``training``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from inspector.reports.figure_text import percent_or_na

METHODS = ("fgsm", "pgd")
ATTACK_PLOT = "attack_accuracy.png"
"""The classifier's accuracy-under-attack plot, beside the report's other plots."""


class AttackAccuracyLike(Protocol):
    """A classifier's predictions under one attack at one epsilon."""

    method: str
    epsilon: int
    accuracy: float
    good_vs_defect_accuracy: float | None
    predictions: Sequence[str]


class ClassifierAttacksLike(Protocol):
    """FGSM and PGD against a classifier, as the report reads them."""

    note: str
    epsilons: Sequence[int]
    steps: int
    paths: Sequence[Path]
    classes: Sequence[str]
    clean_predictions: Sequence[str]
    clean_accuracy: float
    clean_good_vs_defect_accuracy: float | None
    results: Sequence[AttackAccuracyLike]


def _by_epsilon(attacks: ClassifierAttacksLike, method: str, key: str) -> dict[str, Any]:
    return {str(r.epsilon): getattr(r, key) for r in attacks.results if r.method == method}


def classifier_attacks_data(attacks: ClassifierAttacksLike | None) -> dict[str, Any] | None:
    """The ``classifier_attacks`` section: every figure and every prediction."""
    if attacks is None:
        return None
    return {
        "note": attacks.note,
        "epsilons": list(attacks.epsilons),
        "steps": attacks.steps,
        "images": [
            {"path": str(p), "class": c, "clean": clean}
            for p, c, clean in zip(
                attacks.paths, attacks.classes, attacks.clean_predictions, strict=True
            )
        ],
        "clean_accuracy": attacks.clean_accuracy,
        "clean_good_vs_defect_accuracy": attacks.clean_good_vs_defect_accuracy,
        "results": [
            {
                "method": r.method,
                "epsilon": r.epsilon,
                "accuracy": r.accuracy,
                "good_vs_defect_accuracy": r.good_vs_defect_accuracy,
                "predictions": list(r.predictions),
            }
            for r in attacks.results
        ],
    }


def classifier_summary(attacks: ClassifierAttacksLike | None) -> dict[str, Any]:
    """Summary keys (``None`` for anomaly models): accuracy per epsilon, per attack."""
    keys = {
        f"classifier_{method}_{name}": None
        for method in METHODS
        for name in ("accuracy", "good_vs_defect_accuracy")
    }
    if attacks is None:
        return keys
    for method in METHODS:
        for name in ("accuracy", "good_vs_defect_accuracy"):
            keys[f"classifier_{method}_{name}"] = _by_epsilon(attacks, method, name)
    return keys


def classifier_attacks_html(section: dict[str, Any] | None, plot: str | None) -> str:
    """The HTML section from the JSON section and the accuracy plot's file name."""
    if section is None:
        return ""
    rows = [
        "<tr><td>0 (clean)</td>"
        f"<td>{percent_or_na(section['clean_accuracy'])}</td>"
        f"<td>{percent_or_na(section['clean_good_vs_defect_accuracy'])}</td>"
        f"<td>{percent_or_na(section['clean_accuracy'])}</td>"
        f"<td>{percent_or_na(section['clean_good_vs_defect_accuracy'])}</td></tr>"
    ]
    found = {(r["method"], r["epsilon"]): r for r in section["results"]}
    for eps in section["epsilons"]:
        cells = "".join(
            f"<td>{percent_or_na(found[(m, eps)]['accuracy'])}</td>"
            f"<td>{percent_or_na(found[(m, eps)]['good_vs_defect_accuracy'])}</td>"
            for m in METHODS
        )
        rows.append(f"<tr><td>{eps}</td>{cells}</tr>")
    counts: dict[str, int] = {}
    for image in section["images"]:
        counts[image["class"]] = counts.get(image["class"], 0) + 1
    sample = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    figure = f'<img src="{html.escape(plot)}" alt="accuracy under attack">' if plot else ""
    return (
        "<h2>Adversarial perturbations (classifier)</h2>"
        f"<p>{html.escape(section['note'])}. {len(section['images'])} images ({sample}); "
        f"PGD {section['steps']} steps. Good-vs-defect: whether <i>good</i> is the top class "
        "exactly when the part is good, which is what the reject gate acts on.</p>"
        "<table><tr><th>epsilon (grey levels)</th><th>FGSM accuracy</th>"
        "<th>FGSM good-vs-defect</th><th>PGD accuracy</th><th>PGD good-vs-defect</th></tr>"
        f"{''.join(rows)}</table>{figure}"
    )
