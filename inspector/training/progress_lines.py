"""Machine-readable training progress: one JSON object per line, written and read back.

``inspector train --progress-json`` writes these lines on stdout so that
another process (the GUI's Models tab) can follow a run it started without
sharing memory with it: the training process may crash, be cancelled or run
for an hour, and the GUI and the line keep running. The format is small and
versioned by its ``event`` names; anything on stdout that is not such a line
(the closing summary) is given back as text, never dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROGRESS, SAVED = "progress", "saved"
EVENTS = (PROGRESS, SAVED)
CURVE_KEYS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_macro_f1")
"""The figures an epoch's end carries, the ones the live plot draws."""
STAGE_LABELS = {
    "read": "reading images",
    "cache": "caching frozen layers",
    "evaluate": "evaluating",
}


@dataclass(frozen=True)
class ProgressEvent:
    """One line of progress.

    Attributes:
        event: ``progress`` (a step of a stage) or ``saved`` (the package is in place).
        stage: ``read``, ``cache``, ``train``, ``epoch`` or ``evaluate`` (see
            :data:`inspector.training.train_classifier.Progress`); empty for ``saved``.
        epoch: Epoch number (0 before training starts).
        step: Steps done in the stage.
        total: Steps in the stage.
        metrics: The figures that came with it (``None`` where not computed).
    """

    event: str
    stage: str = ""
    epoch: int = 0
    step: int = 0
    total: int = 0
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        """How far the stage is, 0 to 1 (1 for a stage with nothing to count)."""
        return min(1.0, self.step / self.total) if self.total > 0 else 1.0

    def describe(self) -> str:
        """A short line a person can read: ``epoch 12 (head): loss 0.4321``."""
        if self.event == SAVED:
            return f"saved model {self.metrics.get('version')} to {self.metrics.get('package')}"
        if self.stage in ("train", "epoch"):
            phase = self.metrics.get("phase")
            loss = self.metrics.get("train_loss")
            text = f"epoch {self.epoch}" + (f" ({phase})" if phase else "")
            return text + ("" if loss is None else f": loss {loss:.4f}")
        label = STAGE_LABELS.get(self.stage, self.stage)
        return f"{label}: {self.step}/{self.total}"


def progress_line(epoch: int, step: int, total: int, metrics: Mapping[str, Any]) -> str:
    """The JSON line for one call of the trainer's progress function (NaN written as null)."""
    values = {key: _plain(value) for key, value in metrics.items() if key != "stage"}
    record = {
        "event": PROGRESS,
        "stage": str(metrics.get("stage", "")),
        "epoch": epoch,
        "step": step,
        "total": total,
        "metrics": values,
    }
    return json.dumps(record, sort_keys=True)


def saved_line(package_dir: str, version: str) -> str:
    """The JSON line that says where the finished package is and its version."""
    return json.dumps({"event": SAVED, "metrics": {"package": package_dir, "version": version}})


def parse_progress_line(line: str) -> ProgressEvent | None:
    """The event on ``line``, or ``None`` when the line is plain text (show it as such).

    Raises:
        ValueError: the line is a JSON object that claims to be progress but is
            malformed (the CLI and the GUI disagree on the format: update both).
    """
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict) or record.get("event") not in EVENTS:
        return None
    try:
        return ProgressEvent(
            event=record["event"],
            stage=str(record.get("stage", "")),
            epoch=int(record.get("epoch", 0)),
            step=int(record.get("step", 0)),
            total=int(record.get("total", 0)),
            metrics=dict(record.get("metrics") or {}),
        )
    except (TypeError, ValueError) as exc:
        msg = (
            f"malformed training progress line {text[:200]!r} ({exc}): the GUI and "
            "'inspector train --progress-json' are from different versions; reinstall one"
        )
        raise ValueError(msg) from exc


@dataclass
class TrainingCurves:
    """The per-epoch figures of a run so far, for the live loss/metric plot.

    Attributes:
        epochs: Epoch numbers, in order.
        phases: The phase of each (``head`` then ``fine-tune``), to mark where it changes.
        values: One list per :data:`CURVE_KEYS` entry, ``nan`` where an epoch lacks it.
    """

    epochs: list[int] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in CURVE_KEYS})

    def add(self, event: ProgressEvent) -> bool:
        """Take an epoch's end into the curves; ``False`` for any other event."""
        if event.event != PROGRESS or event.stage != "epoch":
            return False
        self.epochs.append(event.epoch)
        self.phases.append(str(event.metrics.get("phase", "")))
        for key in CURVE_KEYS:
            value = event.metrics.get(key)
            self.values[key].append(math.nan if value is None else float(value))
        return True


def _plain(value: Any) -> Any:
    """A JSON-safe copy: non-finite floats become null, numpy scalars plain numbers."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
