"""Acceptance criteria: pass or fail from the line's verdicts, and the threshold to set."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from inspector.core.inspection import ModelOutput
from inspector.core.verdict import Verdict
from inspector.decision.decide import decide
from inspector.decision.rules import DecisionRules
from inspector.reports.acceptance import AcceptanceCriteria, acceptance_lines, judge
from inspector.reports.rate_interval import RateInterval, rate_interval


@dataclass(frozen=True)
class Part:
    """What acceptance reads of an evaluated image."""

    defect_class: str
    score: float
    lighting: str | None = None


# Ten good parts scoring 0..9 and five defective ones scoring 5.5, 7.5, 9.5, 10.5, 11.5.
PARTS = [Part("good", float(s)) for s in range(10)] + [
    Part("dent", s) for s in (5.5, 7.5, 9.5, 10.5, 11.5)
]


def _accepted(parts: list[Part], rules: DecisionRules) -> list[bool]:
    """The line's own verdicts (decide), each part's map flat at its score."""
    return [
        decide(
            ModelOutput(p.score, np.full((8, 8), p.score, np.float32)),
            rules,
            lighting_fault=p.lighting,
        )[0]
        is Verdict.ACCEPT
        for p in parts
    ]


def _judge(criteria: AcceptanceCriteria, parts: list[Part], rules: DecisionRules, **kw):
    """``judge`` on the counts an evaluation summary keeps of the line's verdicts."""
    accepted = np.array(_accepted(parts, rules))
    good = np.array([p.defect_class == "good" for p in parts])

    def counted(events: np.ndarray) -> RateInterval | None:
        return rate_interval(int(events.sum()), events.size) if events.size else None

    return judge(criteria, parts, rules, counted(~accepted[good]), counted(accepted[~good]), **kw)


@pytest.mark.parametrize(
    ("frr", "esc"), [(None, None), (1.0, None), (None, -0.1), (math.nan, 0.05), (0.02, math.inf)]
)
def test_criteria_out_of_range_are_refused(frr, esc):
    with pytest.raises(ValueError, match="share from 0 to below 1|need a largest"):
        AcceptanceCriteria(frr, esc)


def test_the_threshold_in_force_passes_only_within_both_limits():
    criteria = AcceptanceCriteria(max_false_reject_rate=0.1, max_escape_rate=0.2)
    assert criteria.met_by(0.1, 0.2)
    assert not criteria.met_by(0.11, 0.0)
    assert not criteria.met_by(0.0, 0.21)
    assert not criteria.met_by(math.nan, 0.0)  # no good part: a limit on it cannot be met
    assert AcceptanceCriteria(max_escape_rate=0.2).met_by(0.9, 0.2)  # no false-reject limit


def test_a_failing_threshold_is_told_the_threshold_to_set_as_the_line_uses_it():
    # Threshold 3 with the 5 % review band: goods 3..9 are not accepted (70 %), no escape.
    rules = DecisionRules(threshold=3.0)
    verdict = _judge(AcceptanceCriteria(0.1, 0.4), PARTS, rules)
    assert not verdict.passed
    assert (verdict.false_rejects.events, verdict.escapes.events) == (7, 0)
    # At most 1 of 10 good rejected: only the good part at 9 may be; parts below the
    # threshold less its review band are accepted, so it sits just above 8 / 0.95.
    assert verdict.threshold_to_set == pytest.approx(8.42106)
    assert verdict.threshold_to_set * 0.95 > 8.0
    there = DecisionRules(threshold=verdict.threshold_to_set)
    at_it = _judge(AcceptanceCriteria(0.1, 0.4), PARTS, there)
    assert (at_it.false_rejects.events, at_it.escapes.events) == (1, 2)  # as predicted
    assert verdict.escapes_there.events == 2 and verdict.passes_there
    assert at_it.passed
    lines = acceptance_lines(verdict)
    assert lines[0] == (
        "acceptance: FAIL (false rejects at most 10 % and escapes at most 40 %): at the "
        "threshold in force false rejects 70.0 % (7 of 10), escapes 0.0 % (0 of 5)"
    )
    assert (
        "threshold to set for at most 10 % false rejects on this set: 8.42106, where " in (lines[1])
    )
    assert "try it with --threshold, and confirm it on other parts" in lines[1]


def test_a_pass_never_reads_as_a_model_that_must_improve():
    rules = DecisionRules(threshold=8.42106)
    verdict = _judge(AcceptanceCriteria(0.1, 0.4), PARTS, rules)
    assert verdict.passed and "it meets the criteria too" in acceptance_lines(verdict)[1]
    strict = _judge(AcceptanceCriteria(0.1, 0.2), PARTS, rules)
    assert not strict.passed and not strict.passes_there
    assert acceptance_lines(strict)[1].endswith(
        "no threshold meets the criteria on this set: the model must improve"
    )


def test_parts_that_fail_safe_count_against_the_limit_whatever_the_threshold():
    parts = [*PARTS, Part("good", math.nan), Part("good", 0.5, lighting="darker than taught")]
    rules = DecisionRules(threshold=20.0)
    verdict = _judge(AcceptanceCriteria(0.2, 0.5), parts, rules)
    assert verdict.false_rejects.events == 2  # the two that failed safe
    # 20 % of 12 allows 2 rejected goods: both are the failed-safe ones, so no scored good
    # may be rejected: the threshold to set sits just above 9 / 0.95.
    assert verdict.threshold_to_set == pytest.approx(9.47369)
    tighter = _judge(AcceptanceCriteria(0.1, 0.5), parts, rules)
    assert tighter.threshold_to_set is None
    assert (
        "parts that fail safe (unscored, or lit unlike the good parts) exceed it"
        in (acceptance_lines(tighter)[1])
    )


def test_an_incomplete_set_cannot_pass_and_limits_keep_their_precision():
    rules = DecisionRules(threshold=8.42106)
    verdict = _judge(AcceptanceCriteria(0.0025, 0.5), PARTS, rules, unreadable=2)
    assert not verdict.passed
    lines = acceptance_lines(verdict)
    assert lines[0].startswith("acceptance: FAIL (false rejects at most 0.25 % and escapes")
    assert "2 image(s) could not be read and were not judged" in lines[1]


def test_limits_on_one_rate_only_and_a_set_without_defective_parts():
    rules = DecisionRules(threshold=8.42106)
    escapes_only = _judge(AcceptanceCriteria(max_escape_rate=0.5), PARTS, rules)
    assert escapes_only.passed and escapes_only.threshold_to_set is None
    assert acceptance_lines(escapes_only) == [
        "acceptance: PASS (escapes at most 50 %): at the threshold in force false rejects "
        "10.0 % (1 of 10), escapes 40.0 % (2 of 5)"
    ]
    goods = PARTS[:10]
    verdict = _judge(AcceptanceCriteria(0.1, 0.05), goods, rules)
    assert not verdict.passed and verdict.threshold_to_set is None
    lines = acceptance_lines(verdict)
    assert "escapes n/a (no such parts)" in lines[0]
    assert lines[1] == "  no threshold to set: that needs good and defective parts in the set"
