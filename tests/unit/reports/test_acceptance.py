"""Acceptance criteria: pass or fail at the threshold in force, and the best threshold's verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inspector.reports.acceptance import AcceptanceCriteria, acceptance_lines, judge

# Ten good parts scoring 0..9 and five defective ones scoring 5.5, 7.5, 9.5, 10.5, 11.5.
GOOD = np.arange(10.0)
BAD = np.array([5.5, 7.5, 9.5, 10.5, 11.5])
SCORES = np.r_[GOOD, BAD]
LABELS = np.r_[np.zeros(10, bool), np.ones(5, bool)]


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


def test_a_failing_threshold_is_told_whether_another_one_would_pass():
    # At most 1 of 10 good rejected: the lowest such threshold lets good 9 be the only
    # one above it, so it sits at 8; defective parts at or below 8 escape: 5.5 and 7.5.
    criteria = AcceptanceCriteria(max_false_reject_rate=0.1, max_escape_rate=0.4)
    verdict = judge(criteria, 0.0, 0.6, SCORES, LABELS)  # a cautious threshold in force
    assert not verdict.passed
    assert verdict.best_threshold == pytest.approx(8.0)
    assert verdict.best_escape_rate == pytest.approx(2 / 5)
    assert verdict.best_passed is True
    lines = acceptance_lines(verdict)
    assert lines[0].startswith("acceptance: FAIL (false rejects at most 10.0 % and escapes")
    assert "escapes 60.0 %" in lines[0]
    assert "so this threshold would pass without a new model (chosen on this set" in lines[1]

    strict = judge(AcceptanceCriteria(0.1, 0.2), 0.1, 0.4, SCORES, LABELS)
    assert (strict.passed, strict.best_passed) == (False, False)
    assert (
        "no threshold meets the criteria on this set: the model must improve"
        in (acceptance_lines(strict)[1])
    )


def test_a_pass_and_limits_on_one_rate_only():
    verdict = judge(AcceptanceCriteria(0.1, 0.4), 0.1, 0.4, SCORES, LABELS)
    assert verdict.passed and "it meets the criteria too" in acceptance_lines(verdict)[1]
    escapes_only = judge(AcceptanceCriteria(max_escape_rate=0.5), 0.3, 0.4, SCORES, LABELS)
    assert escapes_only.passed and escapes_only.best_threshold is None
    assert acceptance_lines(escapes_only) == [
        "acceptance: PASS (escapes at most 50.0 %): at the threshold in force false rejects "
        "30.0 %, escapes 40.0 %"
    ]


def test_a_set_without_defective_parts_has_no_best_threshold_and_fails_an_escape_limit():
    verdict = judge(AcceptanceCriteria(0.1, 0.05), 0.0, math.nan, GOOD, np.zeros(10, bool))
    assert not verdict.passed and verdict.best_threshold is None
    assert "escapes n/a" in acceptance_lines(verdict)[0]
