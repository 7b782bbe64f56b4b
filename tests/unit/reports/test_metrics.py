"""Quality metrics against cases small enough to work out by hand."""

import math

import cv2
import numpy as np
import pytest

from inspector.reports import metrics


def test_auroc_of_a_perfect_and_a_reversed_ranking():
    labels = [False, False, True, True]
    assert metrics.auroc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert metrics.auroc([0.9, 0.8, 0.2, 0.1], labels) == 0.0


def test_auroc_counts_pairs():
    # Defective 0.35 beats goods 0.1 and 0.3 but not 0.4: 2 of 3 pairs.
    # Defective 0.8 beats all three: 3 of 3. AUROC = 5 / 6.
    scores = [0.1, 0.3, 0.4, 0.35, 0.8]
    labels = [False, False, False, True, True]
    assert metrics.auroc(scores, labels) == pytest.approx(5 / 6)


def test_auroc_counts_a_tie_as_half_a_pair():
    # One good and one defective with the same score: half a pair won.
    assert metrics.auroc([0.5, 0.5], [False, True]) == pytest.approx(0.5)
    # Goods 0.2, 0.5; defective 0.5 ties one, beats one: (1 + 0.5) / 2.
    assert metrics.auroc([0.2, 0.5, 0.5], [False, False, True]) == pytest.approx(0.75)


def test_auroc_refuses_a_single_class_and_nan():
    with pytest.raises(ValueError, match="both defective and good"):
        metrics.auroc([0.1, 0.2], [False, False])
    with pytest.raises(ValueError, match="nan"):
        metrics.auroc([0.1, math.nan], [False, True])
    with pytest.raises(ValueError, match="one label per score"):
        metrics.auroc([0.1, 0.2, 0.3], [False, True])


def test_roc_curve_points_and_thresholds():
    curve = metrics.roc_curve([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    np.testing.assert_allclose(curve.fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(curve.tpr, [0, 0.5, 0.5, 1, 1])
    assert curve.thresholds[0] == math.inf
    np.testing.assert_allclose(curve.thresholds[1:], [0.8, 0.4, 0.35, 0.1])


def test_false_reject_and_escape_rates_at_a_threshold():
    scores = [0.1, 0.2, 0.6, 0.3, 0.5, 0.9]
    labels = [False, False, False, True, True, True]
    # Rejected: score >= 0.5. Goods: 0.6 rejected -> 1/3. Defective: 0.3 accepted -> 1/3.
    assert metrics.false_reject_rate(scores, labels, 0.5) == pytest.approx(1 / 3)
    assert metrics.escape_rate(scores, labels, 0.5) == pytest.approx(1 / 3)
    # The threshold itself rejects (as decide does).
    assert metrics.false_reject_rate(scores, labels, 0.6) == pytest.approx(1 / 3)
    assert metrics.escape_rate(scores, labels, 0.3) == 0.0


def test_escape_rate_per_class():
    scores = [0.1, 0.2, 0.9, 0.3, 0.8, 0.7]
    classes = ["good", "good", "crack", "crack", "blowhole", "blowhole"]
    assert metrics.escape_rate_per_class(scores, classes, 0.5) == {"blowhole": 0.0, "crack": 0.5}


def test_escape_at_a_false_reject_rate():
    goods = np.arange(1, 101) / 100.0  # 0.01 .. 1.00
    defects = np.array([0.995, 0.5, 2.0, 3.0])
    scores = np.r_[goods, defects]
    labels = np.r_[np.zeros(100, bool), np.ones(4, bool)]
    # 1 % of 100 goods may be rejected: the threshold sits just above 0.99.
    escape, threshold = metrics.escape_at_false_reject_rate(scores, labels, 0.01)
    assert 0.99 < threshold <= 0.995
    assert metrics.false_reject_rate(scores, labels, threshold) == pytest.approx(0.01)
    assert escape == pytest.approx(1 / 4)  # 0.5 escapes; 0.995, 2 and 3 are caught
    # No false rejects allowed: just above the highest good score.
    escape, threshold = metrics.escape_at_false_reject_rate(scores, labels, 0.0)
    assert threshold == pytest.approx(1.0)
    assert metrics.false_reject_rate(scores, labels, threshold) == 0.0
    assert escape == pytest.approx(2 / 4)


def test_threshold_at_false_reject_rate_with_tied_goods():
    # Two goods tie at the top: allowing one false reject cannot split them.
    scores = [0.1, 0.2, 0.9, 0.9]
    labels = [False] * 4
    threshold = metrics.threshold_at_false_reject_rate(scores, labels, 0.25)
    assert metrics.false_reject_rate(scores, labels, threshold) == 0.0
    assert threshold == pytest.approx(0.9)


def test_decision_rates_count_verdicts():
    accepted = [True, False, True, False, True]
    classes = ["good", "good", "crack", "crack", "fray"]
    rates = metrics.decision_rates(accepted, classes)
    assert rates.false_reject_rate == 0.5
    assert rates.escape_rate == pytest.approx(2 / 3)
    assert rates.escape_by_class == {"crack": 0.5, "fray": 1.0}


def test_pixel_auroc_over_several_images():
    mask_a = np.array([[0, 1], [0, 0]], np.uint8)
    mask_b = np.zeros((1, 3), np.uint8)
    map_a = np.array([[0.1, 0.9], [0.2, 0.3]], np.float32)
    map_b = np.array([[0.4, 0.0, 0.95]], np.float32)
    # The one defect pixel (0.9) beats 5 of the 6 good pixels: 5 / 6.
    assert metrics.pixel_auroc([map_a, map_b], [mask_a, mask_b]) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="resize the map"):
        metrics.pixel_auroc([map_a], [mask_b])


def test_aupro_of_a_perfect_map_is_one():
    mask = np.zeros((8, 8), np.uint8)
    mask[1:3, 1:3] = 1
    mask[5:8, 4:8] = 1
    assert metrics.aupro([mask.astype(np.float32)], [mask]) == pytest.approx(1.0)


def test_pro_weighs_regions_equally_whatever_their_size():
    # A 1-pixel region fully found and a 9-pixel region one-third found: PRO is
    # the mean of 1 and 1/3, not the pixel share (4 of 10).
    mask = np.zeros((6, 10), np.uint8)
    mask[0, 0] = 1
    mask[3:6, 5:8] = 1
    amap = np.zeros((6, 10), np.float32)
    amap[0, 0] = 1.0
    amap[3, 5:8] = 1.0
    fpr, pro = metrics.pro_curve([amap], [mask])
    # At threshold 1.0 no good pixel is flagged and the overlap is (1 + 1/3) / 2.
    assert fpr[1] == 0.0
    assert pro[1] == pytest.approx((1 + 1 / 3) / 2)
    assert pro[-1] == pytest.approx(1.0) and fpr[-1] == pytest.approx(1.0)


def test_aupro_integrates_to_the_limit_with_interpolation():
    # A map that flags every pixel at once: the curve jumps from (0, 0) to (1, 1).
    # Interpolated at FPR 0.3 the PRO is 0.3, the area 0.045, normalised 0.15.
    mask = np.zeros((4, 4), np.uint8)
    mask[0, 0] = 1
    assert metrics.aupro([np.ones((4, 4), np.float32)], [mask]) == pytest.approx(0.15)


def test_aupro_needs_a_defect_region():
    with pytest.raises(ValueError, match="no image has a defect region"):
        metrics.aupro([np.zeros((2, 2))], [np.zeros((2, 2), np.uint8)])


def test_pro_curve_samples_a_large_set_on_one_grid():
    # 16 pixels with room for 4: every second row and column, (0, 0), (0, 2), (2, 0), (2, 2).
    # Region A (row 0) is measured on its two sampled pixels, both flagged; region B
    # (one pixel at (3, 3)) falls between the grid and is left out, not counted as missed.
    mask = np.zeros((4, 4), np.uint8)
    mask[0, :] = 1
    mask[3, 3] = 1
    amap = np.zeros((4, 4), np.float32)
    amap[0, [0, 2]] = 1.0
    fpr, pro = metrics.pro_curve([amap], [mask], max_pixels=4)
    assert (fpr[1], pro[1]) == (0.0, pytest.approx(1.0))
    # Unsampled, A is half found and B not at all: (1/2 + 0) / 2.
    fpr, pro = metrics.pro_curve([amap], [mask])
    assert (fpr[1], pro[1]) == (0.0, pytest.approx(0.25))


def test_pixel_figures_sample_every_image_with_the_same_stride():
    mask = np.zeros((4, 4), np.uint8)
    mask[2, 2] = 1
    amap = np.zeros((4, 4), np.float32)
    amap[2, 2], amap[1, 1] = 1.0, 2.0  # the good pixel outscoring the defect is off the grid
    assert metrics.sampling_step([amap, amap], [mask, mask], 8) == 2
    assert metrics.pixel_auroc([amap, amap], [mask, mask], max_pixels=8) == 1.0
    assert metrics.pixel_auroc([amap, amap], [mask, mask]) == pytest.approx(14 / 15)


def test_pixel_auroc_equals_the_roc_curve_area_with_ties():
    rng = np.random.default_rng(4)
    maps = [rng.integers(0, 6, (9, 7)).astype(np.float32) for _ in range(3)]  # many ties
    masks = [rng.random((9, 7)) < 0.3 for _ in range(3)]
    flat = np.concatenate([m.ravel() for m in maps])
    labels = np.concatenate([k.ravel() for k in masks])
    assert metrics.pixel_auroc(maps, masks) == pytest.approx(metrics.auroc(flat, labels), abs=1e-12)
    with pytest.raises(ValueError, match="nan or inf"):
        metrics.pixel_auroc([np.full((2, 2), np.nan, np.float32)], [np.eye(2, dtype=bool)])
    with pytest.raises(ValueError, match="only one kind"):
        metrics.pixel_auroc([np.ones((2, 2), np.float32)], [np.zeros((2, 2), bool)])


def test_pro_curve_reads_tied_scores_as_one_step():
    mask = np.zeros((4, 4), np.uint8)
    mask[0, :2] = 1
    amap = np.ones((4, 4), np.float32)  # everything tied: one step to (1, 1)
    fpr, pro = metrics.pro_curve([amap], [mask])
    assert fpr.tolist() == [0.0, 1.0] and pro.tolist() == [0.0, 1.0]


def test_pro_curve_takes_regions_labelled_before_the_maps_were_sampled():
    # A one-pixel diagonal crack: one region at full size, but its sampled pixels touch
    # only at corners... or not at all: labelled after sampling it could fall apart.
    mask = np.zeros((40, 40), np.uint8)
    cv2.line(mask, (2, 2), (37, 20), 1, 1)
    mask[30:34, 30:34] = 1
    amap = np.random.default_rng(1).random((40, 40)).astype(np.float32) + mask
    count, labelled = cv2.connectedComponents(mask, connectivity=8)
    assert count == 3
    full = metrics.pro_curve([amap], [mask], max_pixels=400)  # sampled every 2nd pixel
    thinned = metrics.pro_curve([amap[::2, ::2]], [mask[::2, ::2]], regions=[labelled[::2, ::2]])
    np.testing.assert_allclose(thinned[0], full[0])
    np.testing.assert_allclose(thinned[1], full[1])
    relabelled = metrics.pro_curve([amap[::2, ::2]], [mask[::2, ::2]])
    assert len(relabelled[1]) != len(full[1]) or not np.allclose(relabelled[1], full[1])


def test_every_region_between_the_grid_is_said_so():
    mask = np.zeros((4, 4), np.uint8)
    mask[1, 1] = mask[3, 3] = 1
    with pytest.raises(ValueError, match="fell between the sampling grid"):
        metrics.pro_curve([np.zeros((4, 4), np.float32)], [mask], max_pixels=4)


def test_auroc_of_samples_refuses_what_it_cannot_rank():
    assert metrics.auroc_of_samples(np.array([2.0, 1.0]), np.array([1.0, 0.0])) == 0.875
    with pytest.raises(ValueError, match="nan or inf"):
        metrics.auroc_of_samples(np.array([np.nan, 0.0]), np.array([0.5]))
    with pytest.raises(ValueError, match="only one kind"):
        metrics.auroc_of_samples(np.array([]), np.array([0.5]))
