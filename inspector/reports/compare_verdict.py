"""The one-word verdict of a comparison, from figures both models have.

Anomaly models and classifiers are compared on different figures, but by one
rule, here: each figure that moves by more than its tolerance (a whole image
for a rate, 0.001 for an AUROC) counts for or against the candidate; both
kinds of movement make ``mixed``, only one kind ``better`` or ``worse``, none
``same``. Per-class figures are figures like the others, so a class that does
worse keeps the verdict at ``mixed`` at best even when the totals improve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

AUROC_TOLERANCE = 0.001
"""AUROC differences smaller than this are noise, not a reason for a verdict."""


@dataclass(frozen=True)
class Figure:
    """One figure of both models and how a difference is weighed.

    Attributes:
        name: How the reason names it, e.g. ``escapes`` or ``crack recall``.
        new / baseline: The two values; ``None`` where one cannot be computed (not weighed).
        higher_is_better: ``True`` for accuracies and AUROC, ``False`` for escapes.
        tolerance: Differences smaller than this do not count.
        percent: Shown as a percentage (rates), else with four decimals (AUROC).
    """

    name: str
    new: float | None
    baseline: float | None
    higher_is_better: bool
    tolerance: float
    percent: bool = True


def whole_image(images: int) -> float:
    """The tolerance of a rate over ``images`` images: it counts once one image moves."""
    return 0.5 / max(1, images)


def weigh(figures: Iterable[Figure]) -> tuple[str, tuple[str, ...]]:
    """``(verdict, reasons)``, a reason per figure that moved: ``escapes 12.0 % -> 8.0 %``."""
    better = worse = 0
    reasons = []
    for figure in figures:
        ours, theirs = figure.new, figure.baseline
        if ours is None or theirs is None or abs(ours - theirs) < figure.tolerance:
            continue
        if (ours > theirs) == figure.higher_is_better:
            better += 1
        else:
            worse += 1
        shown = (
            (f"{100 * theirs:.1f} %", f"{100 * ours:.1f} %")
            if figure.percent
            else (f"{theirs:.4f}", f"{ours:.4f}")
        )
        reasons.append(f"{figure.name} {shown[0]} -> {shown[1]}")
    if better and worse:
        return "mixed", tuple(reasons)
    if better:
        return "better", tuple(reasons)
    if worse:
        return "worse", tuple(reasons)
    return "same", tuple(reasons)
