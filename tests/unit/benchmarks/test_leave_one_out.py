"""The leave-one-out benchmark's figures, against a case worked by hand."""

import numpy as np
import pytest

from tests.unit.benchmarks.loading import load_benchmark

leave_one_out = load_benchmark("leave_one_out")


def test_figures_of_a_hand_worked_case() -> None:
    good = np.arange(100.0)  # 0 .. 99
    defective = np.array([50.5, 99.5, 200.0])
    result = leave_one_out.figures(good, defective)
    # 50.5 outscores 51 of the 100 good parts, the other two outscore all of them.
    assert result["image_auroc"] == pytest.approx((0.51 + 1.0 + 1.0) / 3)
    # 1 %: one good part (99) may be rejected, so the threshold sits just above 98 and
    # only 50.5 passes; 2 %: just above 97, the same one passes.
    at_1 = result["escapes at 1% false rejects"]
    assert (at_1["escaped"], at_1["of"]) == (1, 3)
    assert at_1["threshold"] == pytest.approx(98.0)
    at_2 = result["escapes at 2% false rejects"]
    assert at_2["escaped"] == 1 and at_2["threshold"] == pytest.approx(97.0)
