"""Deciding with a classifier's probabilities: named defects and per-class rules."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from inspector.core import ModelOutput, Verdict
from inspector.decision import DecisionRules, decide
from inspector.decision.class_rules import ClassRule, part_class
from inspector.decision.zones import Zone

CRACK = {"crack": 0.7, "good": 0.1, "spot": 0.2}
SPOT = {"crack": 0.1, "good": 0.2, "spot": 0.7}
GOOD = {"crack": 0.06, "good": 0.9, "spot": 0.04}


def output(peak: float = 1.0, probabilities=None, *, second: bool = False) -> ModelOutput:
    """A 32x32 map at 0.1 with a 6x6 region at ``peak`` (and a 5x5 one at 0.9 if ``second``)."""
    anomaly_map = np.full((32, 32), 0.1, np.float32)
    anomaly_map[4:10, 4:10] = peak
    if second:
        anomaly_map[20:25, 20:25] = 0.9
    return ModelOutput(float(anomaly_map.max()), anomaly_map, probabilities)


RULES = DecisionRules(0.5, review_margin=0.1, min_defect_area_px=10)


def test_without_probabilities_defects_stay_anomalies():
    verdict, defects = decide(output(), RULES)
    assert verdict is Verdict.REJECT
    assert [(d.kind, d.box, d.area_px) for d in defects] == [("anomaly", (4, 4, 6, 6), 36)]
    assert defects[0].confidence == pytest.approx(1.0)


def test_every_region_gets_the_parts_most_probable_defect_class():
    verdict, defects = decide(output(probabilities=CRACK, second=True), RULES)
    assert verdict is Verdict.REJECT
    assert [d.kind for d in defects] == ["crack", "crack"]  # one class per part: a known limit
    assert [d.confidence for d in defects] == [0.7, 0.7]
    assert [d.box for d in defects] == [(4, 4, 6, 6), (20, 20, 5, 5)]


def test_a_classifier_that_says_good_sends_a_rejected_part_to_review_by_default():
    verdict, defects = decide(output(probabilities=GOOD), RULES)
    assert verdict is Verdict.REVIEW
    assert [(d.kind, d.confidence) for d in defects] == [("crack", 0.06)]


@pytest.mark.parametrize("choice", [Verdict.ACCEPT, Verdict.REJECT])
def test_what_a_good_saying_classifier_does_is_an_explicit_rule(choice):
    verdict, defects = decide(output(probabilities=GOOD), replace(RULES, on_classifier_good=choice))
    assert verdict is choice
    assert (defects == ()) is (choice is Verdict.ACCEPT)


def test_a_class_threshold_replaces_the_stations_for_parts_of_that_class():
    faint = output(peak=0.4, probabilities=CRACK)  # under the station's 0.5 (and its review band)
    assert decide(faint, RULES)[0] is Verdict.ACCEPT
    strict = DecisionRules(0.5, review_margin=0.1, classes=(ClassRule("crack", threshold=0.3),))
    verdict, defects = decide(faint, strict)
    assert verdict is Verdict.REJECT and defects[0].kind == "crack"
    # the crack rule does not touch a part the classifier calls a spot, nor a good one
    assert decide(output(peak=0.4, probabilities=SPOT), strict)[0] is Verdict.ACCEPT
    assert decide(output(peak=0.4, probabilities=GOOD), strict)[0] is Verdict.ACCEPT


def test_a_looser_class_threshold_accepts_what_the_station_would_reject():
    lenient = DecisionRules(0.5, classes=(ClassRule("spot", threshold=2.0),))
    assert decide(output(probabilities=SPOT), lenient) == (Verdict.ACCEPT, ())
    assert decide(output(probabilities=CRACK), lenient)[0] is Verdict.REJECT


def test_a_class_minimum_area_replaces_the_stations():
    rules = DecisionRules(0.5, min_defect_area_px=10, classes=(ClassRule("crack", None, 50),))
    assert decide(output(probabilities=CRACK), rules) == (Verdict.REVIEW, ())  # 36 px < 50
    verdict, defects = decide(output(probabilities=SPOT), rules)
    assert verdict is Verdict.REJECT and defects[0].kind == "spot"


def test_a_class_less_probable_than_its_minimum_confidence_is_unclassified_review():
    rules = DecisionRules(0.5, classes=(ClassRule("crack", min_confidence=0.8),))
    verdict, defects = decide(output(probabilities=CRACK), rules)  # crack at 0.7 < 0.8
    assert verdict is Verdict.REVIEW
    assert [(d.kind, d.confidence) for d in defects] == [("unclassified", 0.7)]
    sure = {"crack": 0.85, "good": 0.05, "spot": 0.1}
    assert decide(output(probabilities=sure), rules)[0] is Verdict.REJECT


def test_zones_still_apply_over_class_rules():
    strict = (ClassRule("crack", threshold=0.3, min_defect_area_px=1),)
    corner = (0.0, 0.0, 0.5, 0.5)  # holds the 6x6 region
    ignored = DecisionRules(0.5, zones=(Zone("edge", corner, ignore=True),), classes=strict)
    assert decide(output(peak=0.4, probabilities=CRACK), ignored) == (Verdict.ACCEPT, ())
    own = DecisionRules(
        0.5, review_margin=0.0, zones=(Zone("lid", corner, threshold=0.45),), classes=strict
    )
    assert decide(output(peak=0.4, probabilities=CRACK), own) == (Verdict.ACCEPT, ())
    assert decide(output(peak=0.46, probabilities=CRACK), own)[0] is Verdict.REJECT


def test_an_untrustworthy_score_is_fail_safe_whatever_the_classifier_says():
    broken = ModelOutput(math.nan, np.zeros((8, 8), np.float32), GOOD)
    assert decide(broken, RULES) == (RULES.fail_safe, ())


def test_class_rules_and_the_good_verdict_are_part_of_the_rules_version():
    plain = DecisionRules(0.5)
    crack = DecisionRules(0.5, classes=(ClassRule("crack", threshold=0.3),))
    looser = DecisionRules(0.5, classes=(ClassRule("crack", threshold=0.35),))
    trusting = DecisionRules(0.5, on_classifier_good=Verdict.ACCEPT)
    versions = {plain.version, crack.version, looser.version, trusting.version}
    assert len(versions) == 4
    assert DecisionRules(0.5, classes=(ClassRule("crack", threshold=0.3),)).version == crack.version


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: ClassRule("good", threshold=1.0), "on_classifier_good"),
        (lambda: ClassRule(" "), "needs the name"),
        (lambda: ClassRule("crack", threshold=-1.0), "'crack': threshold"),
        (lambda: ClassRule("crack", min_defect_area_px=-3), "'crack': min_defect_area_px"),
        (lambda: ClassRule("crack", min_confidence=1.5), "'crack': min_confidence"),
        (
            lambda: DecisionRules(0.5, classes=(ClassRule("crack"), ClassRule("crack", 0.2))),
            "crack more than once",
        ),
    ],
)
def test_bad_class_rules_are_refused_with_the_reason(make, expected):
    with pytest.raises(ValueError, match=expected):
        make()


def test_probabilities_without_a_defect_class_are_refused():
    with pytest.raises(ValueError, match="no defect class"):
        part_class({"good": 1.0}, ())
