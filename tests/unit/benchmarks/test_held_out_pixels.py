"""The held-out pixel benchmark's figures, against a case worked by hand."""

import numpy as np
import pytest

from tests.unit.benchmarks.loading import load_benchmark

held_out_pixels = load_benchmark("held_out_pixels")


def test_figures_of_a_hand_worked_case() -> None:
    crack = np.array([[1.5, 1.0], [1.0, 1.0]], np.float32)
    crack_mask = np.array([[True, False], [False, False]])
    hole = np.array([[0.5, 3.0], [0.0, 0.0]], np.float32)
    hole_mask = np.array([[False, True], [False, False]])
    good = np.array([[0.0, 2.0], [0.0, 0.0]], np.float32)
    figures = held_out_pixels.pixel_figures(
        [crack, hole], [crack_mask, hole_mask], ["crack", "hole"], [good]
    )
    # Normal pixels: 1, 1, 1 (crack image), 0.5, 0, 0 (hole image), 0, 2, 0, 0 (good).
    # 1.5 outranks 9 of those 10, 3.0 all 10.
    assert figures["pixel_auroc"] == pytest.approx((9 + 10) / 20)
    # Per class, with the good image: crack's 1.5 beats 1, 1, 1, 0, 0, 0 but not 2.
    assert figures["pixel_auroc crack"] == pytest.approx(6 / 7)
    assert figures["pixel_auroc hole"] == pytest.approx(1.0)
    assert 0.0 <= figures["aupro"] <= 1.0
