import numpy as np
import pytest

from inspector.core import ModelOutput, Verdict
from inspector.decision import DecisionRules, decide
from inspector.decision.zones import Zone, threshold_map


def _map(blobs) -> np.ndarray:
    anomaly_map = np.full((100, 200), 0.2, np.float32)
    for (x, y, w, h), value in blobs:
        anomaly_map[y : y + h, x : x + w] = value
    return anomaly_map


LABEL = Zone("label", (0.0, 0.0, 0.25, 0.3), ignore=True)  # x 0-50, y 0-30


def test_defect_in_an_ignored_zone_does_not_count():
    anomaly_map = _map([((10, 5, 10, 10), 3.0)])
    plain = DecisionRules(1.0)
    assert decide(ModelOutput(3.0, anomaly_map), plain)[0] is Verdict.REJECT
    verdict, defects = decide(ModelOutput(3.0, anomaly_map), DecisionRules(1.0, zones=(LABEL,)))
    assert verdict is Verdict.ACCEPT and defects == ()


def test_a_defect_outside_the_ignored_zone_still_rejects():
    anomaly_map = _map([((10, 5, 10, 10), 3.0), ((150, 60, 10, 10), 2.0)])
    verdict, defects = decide(ModelOutput(3.0, anomaly_map), DecisionRules(1.0, zones=(LABEL,)))
    assert verdict is Verdict.REJECT
    assert [d.box for d in defects] == [(150, 60, 10, 10)]


def test_a_stricter_zone_rejects_what_the_station_threshold_accepts():
    sealing_face = Zone("sealing face", (0.5, 0.5, 0.5, 0.5), threshold=0.5)
    anomaly_map = _map([((150, 60, 10, 10), 0.7)])
    assert decide(ModelOutput(0.7, anomaly_map), DecisionRules(1.0))[0] is Verdict.ACCEPT
    verdict, defects = decide(
        ModelOutput(0.7, anomaly_map), DecisionRules(1.0, zones=(sealing_face,))
    )
    assert verdict is Verdict.REJECT
    assert defects[0].confidence == pytest.approx(0.7)  # 1.4x the zone threshold


def test_a_zone_minimum_area_sends_small_regions_to_review():
    tolerant = Zone("rough edge", (0.5, 0.0, 0.5, 1.0), min_defect_area_px=500)
    anomaly_map = _map([((150, 60, 10, 10), 2.0)])
    verdict, _ = decide(ModelOutput(2.0, anomaly_map), DecisionRules(1.0, zones=(tolerant,)))
    assert verdict is Verdict.REVIEW


def test_zones_change_the_rules_version():
    assert DecisionRules(1.0).version != DecisionRules(1.0, zones=(LABEL,)).version
    assert DecisionRules(1.0, zones=(LABEL,)).with_threshold(2.0).zones == (LABEL,)


def test_threshold_map_later_zones_win_and_ignore_is_infinite():
    zones = (Zone("a", (0.0, 0.0, 1.0, 1.0), threshold=2.0), LABEL)
    thresholds = threshold_map((100, 200), 1.0, zones)
    assert thresholds[50, 100] == 2.0
    assert np.isinf(thresholds[10, 10])


@pytest.mark.parametrize(
    ("box", "threshold"), [((0.9, 0.0, 0.2, 0.5), None), ((0.0, 0.0, 0.5, 0.5), -1.0)]
)
def test_bad_zones_are_refused_with_their_name(box, threshold):
    with pytest.raises(ValueError, match="zone 'x'"):
        Zone("x", box, threshold=threshold)
