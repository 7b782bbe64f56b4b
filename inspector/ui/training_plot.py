"""The live loss/metric plot of a training run (matplotlib in a Qt canvas, like the Reports tab).

Loss on the left axis (train and validation), validation accuracy and
macro-F1 on the right, 0 to 1; a dotted line marks where the head-only phase
ends and fine-tuning starts, because the curves jump there by design.
"""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure

from inspector.training.progress_lines import TrainingCurves


class TrainingPlot(FigureCanvasQTAgg):
    """Redrawn at each epoch's end; a handful of points per second at most."""

    def __init__(self) -> None:
        super().__init__(Figure(figsize=(5, 3), dpi=90, layout="tight"))
        self.setMinimumHeight(220)
        self.show_curves(TrainingCurves())

    def show_curves(self, curves: TrainingCurves) -> None:
        """Draw the run's curves so far (an empty run shows labelled, empty axes)."""
        self.figure.clear()
        loss = self.figure.add_subplot()
        metric = loss.twinx()
        x, v = curves.epochs, curves.values
        loss.plot(x, v["train_loss"], color="tab:blue", label="train loss")
        loss.plot(x, v["val_loss"], color="tab:orange", label="validation loss")
        metric.plot(x, v["val_accuracy"], color="tab:green", ls="--", label="val. accuracy")
        metric.plot(x, v["val_macro_f1"], color="tab:purple", ls=":", label="val. macro-F1")
        for n in range(1, len(curves.phases)):
            if curves.phases[n] != curves.phases[n - 1]:
                loss.axvline(x[n] - 0.5, color="grey", ls=":", lw=1)
        loss.set_xlabel("epoch")
        loss.set_ylabel("loss")
        metric.set_ylabel("accuracy / F1")
        metric.set_ylim(0, 1.02)
        if not x:
            loss.set_title("Start a training run to see its curves", fontsize=9)
        handles = loss.get_legend_handles_labels()
        more = metric.get_legend_handles_labels()
        loss.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, loc="center right")
        self.draw_idle()
