"""Classification metrics on a validation split, as QA reads them.

Besides the textbook figures (confusion matrix, per-class precision, recall
and F1, accuracy, macro F1) two figures answer the questions a line asks:
*good-vs-defect accuracy* (is the part accepted or rejected correctly, any
defect class counting as "defect") and *defect-class accuracy* (among the
truly defective parts, how often the class is named right: what sorting and
the Pareto chart depend on). Both need a ``good`` class; without one they are
``None``. Undefined ratios (a class never predicted, or absent from the
split) are ``None`` too, never a made-up 0 or 1, and JSON-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from inspector.training.dataset_layout import GOOD_CLASS


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one class, and how many validation images it has."""

    precision: float | None
    recall: float | None
    f1: float | None
    support: int


@dataclass(frozen=True)
class ClassificationMetrics:
    """Everything measured on one validation split.

    Attributes:
        classes: Class names, in the model's order.
        confusion: ``confusion[true][predicted]`` image counts.
        per_class: Metrics of each class, by name.
        accuracy: Share of images whose class is right.
        macro_f1: Mean F1 over the classes present in the split.
        good_vs_defect_accuracy: Share right when every defect class counts
            as one "defect" class; ``None`` without a ``good`` class.
        defect_class_accuracy: Share of the defective images whose exact
            class is right; ``None`` without ``good`` or defective images.
        count: Images measured.
    """

    classes: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    per_class: dict[str, ClassMetrics]
    accuracy: float
    macro_f1: float | None
    good_vs_defect_accuracy: float | None
    defect_class_accuracy: float | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, for ``model.json``."""
        out = asdict(self)
        out["classes"] = list(self.classes)
        out["confusion"] = [list(row) for row in self.confusion]
        return out


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def classification_metrics(
    true: Sequence[int] | np.ndarray,
    predicted: Sequence[int] | np.ndarray,
    classes: Sequence[str],
) -> ClassificationMetrics:
    """Metrics of ``predicted`` against ``true`` class indices.

    Raises:
        ValueError: the sequences differ in length, are empty, or hold an
            index outside ``classes``.
    """
    y = np.asarray(true, dtype=np.int64)
    p = np.asarray(predicted, dtype=np.int64)
    n = len(classes)
    if y.shape != p.shape or y.ndim != 1 or y.size == 0:
        msg = f"need equally long, non-empty label lists, got {y.shape} and {p.shape}"
        raise ValueError(msg)
    if min(y.min(), p.min()) < 0 or max(y.max(), p.max()) >= n:
        msg = f"class indices must be in 0..{n - 1} for {n} classes"
        raise ValueError(msg)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (y, p), 1)
    per_class = {}
    f1s = []
    for i, name in enumerate(classes):
        hit, support, said = confusion[i, i], confusion[i].sum(), confusion[:, i].sum()
        precision, recall = _ratio(hit, said), _ratio(hit, support)
        if precision is None or recall is None:
            f1 = None if support == 0 else 0.0
        else:
            f1 = _ratio(2 * precision * recall, precision + recall) or 0.0
        if support:
            f1s.append(f1 or 0.0)
        per_class[name] = ClassMetrics(precision, recall, f1, int(support))
    good_vs_defect = defect_class = None
    if GOOD_CLASS in classes:
        good = list(classes).index(GOOD_CLASS)
        good_vs_defect = float(np.mean((y == good) == (p == good)))
        defective = y != good
        defect_class = _ratio(np.sum(p[defective] == y[defective]), np.sum(defective))
    return ClassificationMetrics(
        classes=tuple(classes),
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
        per_class=per_class,
        accuracy=float(np.mean(y == p)),
        macro_f1=float(np.mean(f1s)) if f1s else None,
        good_vs_defect_accuracy=good_vs_defect,
        defect_class_accuracy=defect_class,
        count=int(y.size),
    )
