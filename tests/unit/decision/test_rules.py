import pytest

from inspector.core import Verdict
from inspector.decision import DecisionRules


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold": 1.0, "review_margin": 1.5}, "review_margin"),
        ({"threshold": 1.0, "min_defect_area_px": -1}, "min_defect_area_px"),
    ],
)
def test_bad_values_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        DecisionRules(**kwargs)


def test_version_changes_with_any_rule_and_is_stable():
    base = DecisionRules(1.0)
    assert base.version == DecisionRules(1.0).version
    assert base.version.startswith("rules-v1-")
    assert base.version != base.with_threshold(1.1).version
    assert base.version != DecisionRules(1.0, review_margin=0.2).version
    assert base.version != DecisionRules(1.0, fail_safe=Verdict.REVIEW).version


def test_fail_safe_accepts_plain_strings():
    assert DecisionRules(1.0, fail_safe="review").fail_safe is Verdict.REVIEW


def test_review_floor():
    assert DecisionRules(2.0, review_margin=0.25).review_floor == pytest.approx(1.5)
