"""Segmentation figures: IoU, pixel AUROC (binned) against the rank definition, box matching."""

from __future__ import annotations

import numpy as np
import pytest

from inspector.ml.segmenter_boxes import DetectedBox
from inspector.training.segment_metrics import (
    MetricsAccumulator,
    PixelAuroc,
    box_iou,
    mask_iou,
    match_boxes,
)


def test_mask_iou() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    assert mask_iou(a, b) == 1.0
    a[0, :2], b[0, 1:3] = True, True
    assert mask_iou(a, b) == pytest.approx(1 / 3)


def test_binned_auroc_matches_the_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random(2000) < 0.2
    scores = np.clip(rng.normal(0.3 + 0.3 * truth, 0.2), 0, 1)
    pairs = scores[truth][:, None] - scores[~truth][None, :]
    expected = float(((pairs > 0) + 0.5 * (pairs == 0)).mean())
    auroc = PixelAuroc()
    auroc.add(scores[:1000], truth[:1000])
    auroc.add(scores[1000:], truth[1000:])
    assert auroc.value() == pytest.approx(expected, abs=2e-3)
    assert PixelAuroc().value() is None


def test_boxes_match_greedily_at_iou_half() -> None:
    truth = [(0, 0, 10, 10), (20, 20, 10, 10)]
    predicted = [
        DetectedBox((1, 1, 10, 10), "crack", 0.9),  # IoU 0.68 with the first
        DetectedBox((0, 0, 10, 10), "crack", 0.5),  # would match the first too: taken already
        DetectedBox((20, 20, 20, 20), "crack", 0.8),  # IoU 0.25: no match
    ]
    assert box_iou(truth[0], truth[0]) == 1.0
    matches = match_boxes(predicted, truth)
    assert [(box.score, index) for box, index in matches] == [(0.9, 0)]


def test_accumulator_means_iou_over_defective_images_only() -> None:
    metrics = MetricsAccumulator(threshold=0.5, boxes=True)
    truth = np.zeros((10, 10), bool)
    truth[2:6, 2:6] = True
    peak = np.where(truth, 0.9, 0.1)
    metrics.add("crack", peak, truth, [DetectedBox((2, 2, 4, 4), "crack", 0.9)], [(2, 2, 4, 4)])
    metrics.add("blowhole", np.zeros((10, 10)), truth, [], [(2, 2, 4, 4)])
    metrics.add("good", np.full((10, 10), 0.6), np.zeros((10, 10), bool))
    result = metrics.result()
    assert (result.images, result.defect_images) == (3, 2)
    assert result.miou == pytest.approx(0.5)
    assert result.iou_by_class == {"blowhole": 0.0, "crack": 1.0}
    assert result.good_clean_rate == 0.0
    assert (result.box_precision, result.box_recall, result.box_class_accuracy) == (1.0, 0.5, 1.0)
