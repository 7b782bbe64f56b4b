"""Validation figures of a segmenter: mask IoU, pixel AUROC and, for detection, box P/R.

Definitions (stored with the package, so they are part of what a number means):

* **mIoU of defect masks**: for each *defective* validation image, the IoU
  of the predicted mask (probability >= threshold) with its true mask, at
  the image's own size; the mean over those images. Good images are left
  out of the mean (their IoU is 0 or undefined, never informative) and
  measured by ``good_clean_rate``: the share of good images with no
  predicted defect pixel at all.
* **pixel AUROC**: the area under the ROC curve of every validation pixel's
  defect probability against its true label, over all images; it does not
  depend on the threshold. Computed from a 4096-bin histogram of the
  probabilities (exact up to ties within a bin), which keeps it linear in
  the millions of pixels.
* **box precision / recall at IoU 0.5** (detection): predicted boxes are
  matched greedily, highest score first, to the unmatched true box of
  highest IoU; a match needs IoU >= 0.5, regardless of class; matched boxes
  whose class is right count in ``box_class_accuracy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from inspector.ml.segmenter_boxes import DetectedBox

AUROC_BINS = 4096
BOX_IOU = 0.5


def mask_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """IoU of two boolean masks; 1.0 when both are empty."""
    union = np.logical_or(predicted, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(predicted, truth).sum() / union)


@dataclass
class PixelAuroc:
    """Accumulates per-pixel probability histograms of defect and background pixels."""

    defect: np.ndarray = field(default_factory=lambda: np.zeros(AUROC_BINS, np.int64))
    background: np.ndarray = field(default_factory=lambda: np.zeros(AUROC_BINS, np.int64))

    def add(self, probability: np.ndarray, truth: np.ndarray) -> None:
        """Count one image's pixels (``probability`` in [0, 1], ``truth`` boolean)."""
        bins = np.clip((probability * AUROC_BINS).astype(np.int64), 0, AUROC_BINS - 1)
        self.defect += np.bincount(bins[truth], minlength=AUROC_BINS)
        self.background += np.bincount(bins[~truth], minlength=AUROC_BINS)

    def value(self) -> float | None:
        """The AUROC, or ``None`` when either kind of pixel is missing."""
        positives, negatives = self.defect.sum(), self.background.sum()
        if positives == 0 or negatives == 0:
            return None
        below = np.cumsum(self.background) - self.background  # negatives in lower bins
        wins = (self.defect * (below + 0.5 * self.background)).sum()
        return float(wins / (positives * negatives))


def box_iou(a: Sequence[int], b: Sequence[int]) -> float:
    """IoU of two ``(x, y, w, h)`` boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match_boxes(
    predicted: Sequence[DetectedBox], truth: Sequence[tuple[int, int, int, int]]
) -> list[tuple[DetectedBox, int]]:
    """Greedy matches ``(predicted box, index of its true box)`` at IoU >= 0.5."""
    free = set(range(len(truth)))
    matches = []
    for box in sorted(predicted, key=lambda b: -b.score):
        best = max(free, key=lambda i: box_iou(box.bbox, truth[i]), default=None)
        if best is not None and box_iou(box.bbox, truth[best]) >= BOX_IOU:
            free.discard(best)
            matches.append((box, best))
    return matches


@dataclass(frozen=True)
class SegmentationMetrics:
    """Validation figures of a segmenter (see the module's definitions).

    Attributes:
        threshold: Probability a pixel needs to count as defect.
        images: Validation images.
        defect_images: Those with a non-``good`` class.
        miou: Mean IoU over defective images (``None`` without any).
        iou_by_class: Mean IoU per defect class.
        good_clean_rate: Share of good images without a predicted defect pixel.
        pixel_auroc: Pixel-level AUROC.
        box_precision: Matched predicted boxes / predicted boxes (detection).
        box_recall: Matched true boxes / true boxes (detection).
        box_class_accuracy: Matched boxes of the right class / matched boxes (detection).
        boxes_predicted: Predicted boxes (detection).
        boxes_true: True boxes (detection).
    """

    threshold: float
    images: int
    defect_images: int
    miou: float | None
    iou_by_class: dict[str, float]
    good_clean_rate: float | None
    pixel_auroc: float | None
    box_precision: float | None = None
    box_recall: float | None = None
    box_class_accuracy: float | None = None
    boxes_predicted: int | None = None
    boxes_true: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures for ``model.json``."""
        return asdict(self)


@dataclass
class MetricsAccumulator:
    """Collects per-image results; :meth:`result` gives :class:`SegmentationMetrics`.

    Args:
        threshold: Probability a pixel needs to count as defect.
        boxes: Whether to measure boxes too (detection).
    """

    threshold: float = 0.5
    boxes: bool = False
    _ious: dict[str, list[float]] = field(default_factory=dict)
    _goods: list[bool] = field(default_factory=list)
    _auroc: PixelAuroc = field(default_factory=PixelAuroc)
    _box_counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])

    def add(
        self,
        defect_class: str,
        peak: np.ndarray,
        truth: np.ndarray,
        predicted_boxes: Sequence[DetectedBox] = (),
        true_boxes: Sequence[tuple[int, int, int, int]] = (),
    ) -> None:
        """One image: its class, highest probability per pixel, true mask (boolean), boxes."""
        self._auroc.add(peak, truth)
        if defect_class == "good":
            self._goods.append(not bool((peak >= self.threshold).any()))
        else:
            iou = mask_iou(peak >= self.threshold, truth)
            self._ious.setdefault(defect_class, []).append(iou)
        if self.boxes:
            matches = match_boxes(predicted_boxes, true_boxes)
            right = sum(box.label == defect_class for box, _ in matches)
            counts = (len(predicted_boxes), len(true_boxes), len(matches), right)
            self._box_counts = [a + b for a, b in zip(self._box_counts, counts, strict=True)]

    def result(self) -> SegmentationMetrics:
        """The figures over every image added."""
        every = [iou for ious in self._ious.values() for iou in ious]
        n_pred, n_true, n_match, n_right = self._box_counts
        return SegmentationMetrics(
            threshold=self.threshold,
            images=len(every) + len(self._goods),
            defect_images=len(every),
            miou=float(np.mean(every)) if every else None,
            iou_by_class={k: float(np.mean(v)) for k, v in sorted(self._ious.items())},
            good_clean_rate=float(np.mean(self._goods)) if self._goods else None,
            pixel_auroc=self._auroc.value(),
            box_precision=(n_match / n_pred if n_pred else None) if self.boxes else None,
            box_recall=(n_match / n_true if n_true else None) if self.boxes else None,
            box_class_accuracy=(n_right / n_match if n_match else None) if self.boxes else None,
            boxes_predicted=n_pred if self.boxes else None,
            boxes_true=n_true if self.boxes else None,
        )
