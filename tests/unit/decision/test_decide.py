import math

import numpy as np
import pytest

from inspector.core import ModelOutput, Verdict
from inspector.decision import DecisionRules, decide, find_defect_regions
from inspector.decision.regions import region_confidence


def _map_with_blob(value: float, size: int = 64, box=(10, 20, 8, 6)) -> np.ndarray:
    anomaly_map = np.full((size, size), 0.1, dtype=np.float32)
    x, y, w, h = box
    anomaly_map[y : y + h, x : x + w] = value
    return anomaly_map


def test_low_score_is_accepted_without_defects():
    verdict, defects = decide(ModelOutput(0.5, _map_with_blob(0.5)), DecisionRules(1.0))
    assert verdict is Verdict.ACCEPT
    assert defects == ()


def test_score_in_review_band_goes_to_review():
    rules = DecisionRules(1.0, review_margin=0.2)
    verdict, _ = decide(ModelOutput(0.85, _map_with_blob(0.85)), rules)
    assert verdict is Verdict.REVIEW


def test_over_threshold_with_region_is_rejected_with_its_box():
    verdict, defects = decide(ModelOutput(2.0, _map_with_blob(2.0)), DecisionRules(1.0))
    assert verdict is Verdict.REJECT
    assert len(defects) == 1
    assert defects[0].box == (10, 20, 8, 6)
    assert defects[0].area_px == 48
    assert defects[0].kind == "anomaly"
    assert defects[0].contour.shape[1] == 2


def test_only_tiny_regions_over_threshold_go_to_review():
    anomaly_map = _map_with_blob(2.0, box=(5, 5, 2, 2))
    verdict, defects = decide(
        ModelOutput(2.0, anomaly_map), DecisionRules(1.0, min_defect_area_px=16)
    )
    assert verdict is Verdict.REVIEW
    assert defects == ()


def test_nan_score_gets_fail_safe_verdict():
    rules = DecisionRules(1.0, fail_safe=Verdict.REVIEW)
    verdict, _ = decide(ModelOutput(math.nan, _map_with_blob(0.0)), rules)
    assert verdict is Verdict.REVIEW


def test_a_frame_lit_unlike_the_good_parts_gets_the_fail_safe_verdict_or_a_stricter_one():
    rules = DecisionRules(1.0, fail_safe=Verdict.REVIEW)
    clearly_good = ModelOutput(0.2, _map_with_blob(0.2))
    assert decide(clearly_good, rules, lighting_fault="darker than taught") == (Verdict.REVIEW, ())
    assert decide(clearly_good, rules, lighting_fault=None)[0] is Verdict.ACCEPT
    # What the model rejects stays rejected, with its defects, whatever the fail-safe verdict.
    clear_defect = ModelOutput(2.0, _map_with_blob(2.0))
    for fail_safe in Verdict:
        lenient = DecisionRules(1.0, fail_safe=fail_safe)
        verdict, defects = decide(clear_defect, lenient, lighting_fault="darker than taught")
        assert verdict is Verdict.REJECT and len(defects) == 1
    # A line that fails safe to ACCEPT (its choice) still sends a part to review.
    in_band = ModelOutput(0.97, _map_with_blob(0.97))
    accepting = DecisionRules(1.0, fail_safe=Verdict.ACCEPT)
    assert decide(in_band, accepting, lighting_fault="darker")[0] is Verdict.REVIEW


def test_regions_are_sorted_by_confidence():
    anomaly_map = np.zeros((50, 50), np.float32)
    anomaly_map[5:10, 5:10] = 1.2
    anomaly_map[30:40, 30:40] = 3.0
    defects = find_defect_regions(anomaly_map, 1.0)
    assert [d.box for d in defects] == [(30, 30, 10, 10), (5, 5, 5, 5)]
    assert defects[0].confidence == 1.0
    assert defects[1].confidence == pytest.approx(0.6)


def test_confidence_is_half_at_threshold_and_capped():
    assert region_confidence(1.0, 1.0) == 0.5
    assert region_confidence(5.0, 1.0) == 1.0
