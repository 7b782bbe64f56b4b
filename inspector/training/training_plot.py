"""The training-curves picture stored in a model package.

Loss and accuracy per epoch tell an engineer at a glance whether a model
stopped learning, over-fitted, or was still improving when training ended;
the same numbers are in ``model.json`` for tools. Drawn with matplotlib's Agg
backend (no display, no Qt), into PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure


def plot_training_curves(
    curves: Sequence[Mapping[str, Any]], best_epoch: int, score: str = "accuracy"
) -> bytes:
    """PNG of train/validation loss and a score per epoch, the kept epoch marked.

    Args:
        curves: One mapping per epoch with ``epoch``, ``phase``, ``train_loss``,
            ``val_loss`` and ``val_<score>`` (``train_<score>`` drawn when present;
            a ``None`` value, a score with nothing to measure, is left out).
        best_epoch: The epoch whose weights were kept.
        score: The second panel's figure: ``accuracy`` (classifier), ``miou`` (segmenter).
    """
    head = sum(row.get("phase") == "head" for row in curves)
    figure = Figure(figsize=(9, 3.6), dpi=100, layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for axes, key, title in (
        (loss_axes, "loss", "loss"),
        (accuracy_axes, score, "mIoU" if score == "miou" else score),
    ):
        for split, label in (("train", "train"), ("val", "validation")):
            points = [(r["epoch"], r.get(f"{split}_{key}")) for r in curves]
            points = [(x, y) for x, y in points if y is not None]
            if points:
                axes.plot(*zip(*points, strict=True), ".-", label=label)
        axes.axvline(best_epoch, color="grey", linestyle="--", label=f"kept (epoch {best_epoch})")
        if 0 < head < len(curves):
            axes.axvspan(0.5, head + 0.5, color="grey", alpha=0.1, label="head alone")
        axes.set_xlabel("epoch")
        axes.set_title(title)
        axes.grid(alpha=0.3)
    accuracy_axes.set_ylim(0, 1.02)
    loss_axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
