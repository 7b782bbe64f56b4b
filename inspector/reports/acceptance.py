"""Acceptance criteria of a validation: does the model meet the line's limits on this set?

A validation protocol states its limits before the measurement ("at most 2 %
false rejects and 5 % escapes"); the evaluation then says pass or fail,
for the threshold in force and for the best threshold the set allows, so a
failed run also says whether a threshold change would do or the model must
improve. Figures are the observed rates; their 95 % intervals stand beside
them in the report, because a small set can pass by luck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inspector.reports import metrics
from inspector.reports.figure_text import percent_or_na


@dataclass(frozen=True)
class AcceptanceCriteria:
    """The most false rejects and escapes the line accepts, as shares (``None``: no limit)."""

    max_false_reject_rate: float | None = None
    max_escape_rate: float | None = None

    def __post_init__(self) -> None:
        for name, value in (
            ("false-reject", self.max_false_reject_rate),
            ("escape", self.max_escape_rate),
        ):
            if value is not None and not (math.isfinite(value) and 0.0 <= value < 1.0):
                msg = f"the largest {name} rate must be a share from 0 to below 1, got {value}"
                raise ValueError(msg)
        if self.max_false_reject_rate is None and self.max_escape_rate is None:
            msg = "acceptance criteria need a largest false-reject rate, escape rate or both"
            raise ValueError(msg)

    def met_by(self, false_reject_rate: float, escape_rate: float) -> bool:
        """Whether both observed rates are within their limits (a missing rate fails)."""
        return _within(false_reject_rate, self.max_false_reject_rate) and _within(
            escape_rate, self.max_escape_rate
        )


@dataclass(frozen=True)
class Acceptance:
    """The verdict of :func:`judge`.

    Attributes:
        criteria: The limits judged against.
        passed: Whether the threshold in force meets them (verdicts as on the line).
        false_reject_rate / escape_rate: The rates at the threshold in force.
        best_threshold: The lowest score threshold whose false rejects stay within
            the limit (``None`` without a false-reject limit or without both kinds of
            part), and the escape rate there; ``best_passed`` whether that meets
            the escape limit too: a failed run that passes there needs only a new
            threshold.
    """

    criteria: AcceptanceCriteria
    passed: bool
    false_reject_rate: float
    escape_rate: float
    best_threshold: float | None
    best_escape_rate: float | None
    best_passed: bool | None


def judge(
    criteria: AcceptanceCriteria,
    false_reject_rate: float,
    escape_rate: float,
    scores: np.ndarray,
    labels: np.ndarray,
) -> Acceptance:
    """Judge the threshold in force (its observed rates) and the best score threshold.

    Args:
        criteria: The limits.
        false_reject_rate / escape_rate: At the threshold in force (nan when the set
            has no part of that kind, which fails a limit on it).
        scores / labels: Image scores and ``True`` for defective parts, for the
            best threshold (non-finite scores are left out, as for the ROC).
    """
    best = best_escape = best_passed = None
    finite = np.isfinite(scores)
    s, y = scores[finite], labels[finite]
    if criteria.max_false_reject_rate is not None and y.any() and not y.all():
        best_escape, best = metrics.escape_at_false_reject_rate(
            s, y, criteria.max_false_reject_rate
        )
        best_passed = _within(best_escape, criteria.max_escape_rate)
    return Acceptance(
        criteria=criteria,
        passed=criteria.met_by(false_reject_rate, escape_rate),
        false_reject_rate=false_reject_rate,
        escape_rate=escape_rate,
        best_threshold=best,
        best_escape_rate=best_escape,
        best_passed=best_passed,
    )


def _within(rate: float, limit: float | None) -> bool:
    return limit is None or (math.isfinite(rate) and rate <= limit + 1e-12)


def acceptance_lines(acceptance: Acceptance) -> list[str]:
    """The verdict in words: the first line PASS or FAIL, then what it rests on."""
    limits = acceptance.criteria
    wanted = [
        f"{what} at most {percent_or_na(limit)}"
        for what, limit in (
            ("false rejects", limits.max_false_reject_rate),
            ("escapes", limits.max_escape_rate),
        )
        if limit is not None
    ]
    lines = [
        f"acceptance: {'PASS' if acceptance.passed else 'FAIL'} ({' and '.join(wanted)}): "
        f"at the threshold in force false rejects {percent_or_na(acceptance.false_reject_rate)}, "
        f"escapes {percent_or_na(acceptance.escape_rate)}"
    ]
    if acceptance.best_threshold is not None:
        if not acceptance.best_passed:
            outcome = "no threshold meets the criteria on this set: the model must improve"
        elif acceptance.passed:
            outcome = "it meets the criteria too"
        else:
            outcome = (
                "it meets the criteria, so this threshold would pass without a new model "
                "(chosen on this set: confirm it on other parts)"
            )
        lines.append(
            f"  the lowest threshold within {percent_or_na(limits.max_false_reject_rate)} false "
            f"rejects on this set, {acceptance.best_threshold:.6g}, lets "
            f"{percent_or_na(acceptance.best_escape_rate)} escape: {outcome}"
        )
    return lines
