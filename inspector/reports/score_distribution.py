"""The evaluation's score distribution: every image's score by class, with the thresholds.

A ROC curve says how well the scores separate, not where: a QA engineer
choosing or signing off a threshold wants to see how far the good parts sit
below it and which defect classes straddle it. One dot per image, one row per
class, the threshold in force and the operating points as vertical lines.
Drawn with ``matplotlib.figure`` only (no ``pyplot``, no GUI backend), like
:mod:`inspector.reports.charts`, so it runs headless.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

GOOD_CLASS = "good"
_GOOD_COLOUR, _DEFECT_COLOUR = "#2fa862", "#d9434f"
_THRESHOLD_COLOUR, _POINT_COLOUR = "#1b1f24", "#4c8dd6"


def class_order(classes: Sequence[str]) -> list[str]:
    """``good`` first, then the defect classes alphabetically (top to bottom on the chart)."""
    names = sorted(set(classes))
    return ([GOOD_CLASS] if GOOD_CLASS in names else []) + [n for n in names if n != GOOD_CLASS]


def draw_score_distribution(
    scores: Sequence[float],
    classes: Sequence[str],
    threshold: float,
    operating_points: Sequence[tuple[str, float]] = (),
) -> Figure:
    """One jittered dot per image (seeded, so two reports of one run look alike).

    Args:
        scores: Image scores; ones that are not finite are left out of the
            chart (the report counts them with the fail-safe verdict).
        classes: Each image's class (``good`` for defect-free parts).
        threshold: The threshold in force (solid line).
        operating_points: ``(label, threshold)`` pairs drawn as dashed lines
            (labels in the legend below the chart, so close thresholds stay legible).

    Raises:
        ValueError: scores and classes differ in length.
    """
    if len(scores) != len(classes):
        msg = f"{len(scores)} scores and {len(classes)} classes: pass one class per score"
        raise ValueError(msg)
    order = class_order(classes)
    values = np.asarray(scores, dtype=np.float64)
    names = np.asarray(classes, dtype=object)
    rng = np.random.default_rng(0)
    fig = Figure(figsize=(8.0, 0.55 * len(order) + 1.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for row, name in enumerate(order):
        picked = values[(names == name) & np.isfinite(values)]
        jitter = rng.uniform(-0.22, 0.22, picked.size)
        colour = _GOOD_COLOUR if name == GOOD_CLASS else _DEFECT_COLOUR
        ax.scatter(picked, row + jitter, s=14, color=colour, alpha=0.7, linewidths=0)
    ax.axvline(
        threshold,
        color=_THRESHOLD_COLOUR,
        linewidth=1.5,
        label=f"threshold in force ({threshold:.4g})",
    )
    styles = ("--", ":", "-.")
    for n, (label, at) in enumerate(operating_points):
        if np.isfinite(at):
            ax.axvline(
                at,
                color=_POINT_COLOUR,
                linewidth=1.2,
                linestyle=styles[n % len(styles)],
                label=f"{label} ({at:.4g})",
            )
    counts = {name: int(np.sum(names == name)) for name in order}
    ax.set_yticks(range(len(order)), [f"{name} ({counts[name]})" for name in order])
    ax.set_ylim(len(order) - 0.5, -0.5)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    ax.set_xlabel("anomaly score (higher is worse)")
    ax.grid(axis="x", color="#d5d9de", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig


def save_score_distribution(fig: Figure, path: str | Path) -> None:
    """Write the chart as a PNG (through the figure's own Agg canvas)."""
    fig.savefig(str(path), format="png")
