"""The robustness report's plots: one figure per figure of merit, severity on the x axis.

Drawn with matplotlib's Agg canvas on a figure this module owns (no
``pyplot``, no global state, no GUI toolkit), so the CLI can draw them on any
thread of a headless line PC. Severity 0 is the clean baseline, so every
curve starts where the model stands today and the slope is what the
corruption costs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from inspector.reports.charts import PAPER


class MetricPoint(Protocol):
    """One condition's figures, as the plots read them."""

    corruption: str
    severity: int
    image_auroc: float | None
    false_reject_rate: float
    escape_rate: float


PLOTS: dict[str, tuple[str, str]] = {
    "image_auroc": ("Image AUROC", "AUROC"),
    "escape_rate": ("Escape rate at the model's threshold", "defective parts accepted (%)"),
    "false_reject_rate": ("False-reject rate at the model's threshold", "good parts rejected (%)"),
}
"""File stem -> (title, y label) of each plot."""


def _value(point: MetricPoint, metric: str) -> float:
    value = getattr(point, metric)
    if value is None or not math.isfinite(value):
        return math.nan
    return value if metric == "image_auroc" else 100.0 * value


def draw_metric(
    clean: MetricPoint, points: Sequence[MetricPoint], metric: str, path: str | Path
) -> Path:
    """Plot ``metric`` against severity, one line per corruption, and save a PNG.

    Args:
        clean: The uncorrupted baseline, drawn at severity 0 on every line.
        points: The corrupted conditions.
        metric: A key of :data:`PLOTS`.
        path: The PNG to write.

    Raises:
        ValueError: ``metric`` is not one of :data:`PLOTS`.
    """
    if metric not in PLOTS:
        msg = f"no plot for {metric!r}: use one of {', '.join(PLOTS)}"
        raise ValueError(msg)
    title, label = PLOTS[metric]
    figure = Figure(figsize=(7.5, 4.2), dpi=100, facecolor=PAPER.background)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    names = list(dict.fromkeys(p.corruption for p in points))
    for k, name in enumerate(names):
        mine = sorted((p for p in points if p.corruption == name), key=lambda p: p.severity)
        xs = [0] + [p.severity for p in mine]
        ys = [_value(clean, metric)] + [_value(p, metric) for p in mine]
        ax.plot(xs, ys, marker="o", color=f"C{k % 10}", label=name, linewidth=1.5)
    ax.axhline(_value(clean, metric), color=PAPER.limit, linewidth=1, linestyle=":")
    ax.set_title(title, color=PAPER.text)
    ax.set_xlabel("severity (0 = clean images)", color=PAPER.text)
    ax.set_ylabel(label, color=PAPER.text)
    ax.set_xticks(range(0, 6))
    if metric == "image_auroc":
        ax.set_ylim(top=1.0)
    else:
        ax.set_ylim(-2, 102)
    ax.grid(True, color=PAPER.grid, linewidth=0.6)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=9)
    figure.tight_layout()
    out = Path(path)
    figure.savefig(out, facecolor=PAPER.background)
    return out


def draw_attack_accuracy(attacks: dict[str, Any], path: str | Path) -> Path:
    """Plot a classifier's accuracy against epsilon under FGSM and PGD, and save a PNG.

    Args:
        attacks: The ``classifier_attacks`` section of ``robustness.json``.
        path: The PNG to write.
    """
    figure = Figure(figsize=(7.5, 4.2), dpi=100, facecolor=PAPER.background)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    epsilons = [0, *attacks["epsilons"]]
    found = {(r["method"], r["epsilon"]): r for r in attacks["results"]}
    styles = {"accuracy": "-", "good_vs_defect_accuracy": "--"}
    clean = {
        "accuracy": attacks["clean_accuracy"],
        "good_vs_defect_accuracy": attacks["clean_good_vs_defect_accuracy"],
    }
    for k, method in enumerate(("fgsm", "pgd")):
        for key, style in styles.items():
            if clean[key] is None:
                continue
            ys = [clean[key]] + [found[(method, e)][key] for e in attacks["epsilons"]]
            label = f"{method.upper()} {'class' if key == 'accuracy' else 'good vs defect'}"
            ax.plot(epsilons, [100 * y for y in ys], style, marker="o", color=f"C{k}", label=label)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xticks(epsilons)
    ax.set_xticklabels([str(e) for e in epsilons])
    ax.set_ylim(-2, 102)
    ax.set_title("Classifier accuracy under attack", color=PAPER.text)
    ax.set_xlabel("epsilon, L-infinity (grey levels; 0 = clean)", color=PAPER.text)
    ax.set_ylabel("accuracy (%)", color=PAPER.text)
    ax.grid(True, color=PAPER.grid, linewidth=0.6)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=9)
    figure.tight_layout()
    out = Path(path)
    figure.savefig(out, facecolor=PAPER.background)
    return out
