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


def plot_training_curves(curves: Sequence[Mapping[str, Any]], best_epoch: int) -> bytes:
    """PNG of train/validation loss and accuracy per epoch, the kept epoch marked.

    Args:
        curves: One mapping per epoch with ``epoch``, ``phase``, ``train_loss``,
            ``val_loss``, ``train_accuracy``, ``val_accuracy``.
        best_epoch: The epoch whose weights were kept.
    """
    epochs = [row["epoch"] for row in curves]
    head = sum(row.get("phase") == "head" for row in curves)
    figure = Figure(figsize=(9, 3.6), dpi=100, layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for axes, key, title in (
        (loss_axes, "loss", "loss"),
        (accuracy_axes, "accuracy", "accuracy"),
    ):
        axes.plot(epochs, [row[f"train_{key}"] for row in curves], ".-", label="train")
        axes.plot(epochs, [row[f"val_{key}"] for row in curves], ".-", label="validation")
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
