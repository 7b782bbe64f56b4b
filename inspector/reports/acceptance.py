"""Acceptance criteria of a validation: does the model meet the line's limits on this set?

A validation protocol states its limits before the measurement ("at most 2 %
false rejects and 5 % escapes"); the evaluation then says pass or fail for
the threshold in force, from the line's own verdicts. It also works out the
threshold to set for the false-reject limit on this set, as the line would
use it (a part is accepted below the threshold less its review band; a part
that could not be judged, or was lit unlike the good ones, gets the
fail-safe verdict whatever the threshold), so a failed run says whether a
threshold change would do or the model must improve. That threshold is
chosen on the set itself: confirm it on other parts. Figures are the
observed rates; their 95 % intervals stand beside them in the report,
because a small set can pass by luck.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from inspector.core.verdict import Verdict
from inspector.decision.rules import DecisionRules
from inspector.reports.rate_interval import RateInterval, rate_interval


class _Judged(Protocol):
    defect_class: str
    score: float
    lighting: str | None


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
        passed: Whether the threshold in force meets them on a complete set.
        false_rejects / escapes: At the threshold in force, from the line's verdicts: the
            evaluation summary's counts and intervals (``None``: no such parts).
        unreadable: Images that could not be read: the set is incomplete and cannot pass.
        threshold_to_set: The lowest threshold (as the rules take it) whose false
            rejects stay within the limit on this set, ``None`` without a false-reject
            limit, without both kinds of part, or when the parts that fail safe alone
            exceed it; ``escapes_there`` its escapes, ``passes_there`` whether they
            meet the escape limit.
        not_modelled: Rules the threshold to set does not account for (zones, class
            rules), which only a new evaluation with it can.
        no_threshold: Why there is no threshold to set, when there is a false-reject
            limit but none.
    """

    criteria: AcceptanceCriteria
    passed: bool
    false_rejects: RateInterval | None
    escapes: RateInterval | None
    unreadable: int
    threshold_to_set: float | None
    escapes_there: RateInterval | None
    passes_there: bool | None
    not_modelled: tuple[str, ...] = ()
    no_threshold: str | None = None


def judge(
    criteria: AcceptanceCriteria,
    images: Sequence[_Judged],
    rules: DecisionRules,
    false_rejects: RateInterval | None,
    escapes: RateInterval | None,
    unreadable: int = 0,
) -> Acceptance:
    """Judge the threshold in force by its false rejects and escapes (the evaluation
    summary's, from the line's verdicts) and work out, from the images' scores, the
    threshold to set for the false-reject limit."""
    good = np.array([i.defect_class == "good" for i in images], dtype=bool)
    passed = unreadable == 0 and criteria.met_by(rate_of(false_rejects), rate_of(escapes))
    to_set = there = passes_there = why = None
    if criteria.max_false_reject_rate is None:
        pass
    elif not (good.any() and (~good).any()):
        why = "no threshold to set: that needs good and defective parts in the set"
    else:
        to_set, there, why = _threshold_to_set(images, good, criteria.max_false_reject_rate, rules)
        passes_there = None if there is None else _within(rate_of(there), criteria.max_escape_rate)
    not_modelled = tuple(
        what
        for what, present in (("zones", rules.zones), ("class rules", rules.classes))
        if present
    )
    return Acceptance(
        criteria, passed, false_rejects, escapes, unreadable, to_set, there, passes_there,
        not_modelled, why,
    )  # fmt: skip


FAIL_SAFE_EXCEEDS = (
    "no threshold keeps false rejects within the limit on this set: parts that fail safe "
    "(unscored, or lit unlike the good parts) exceed it already"
)
NOT_POSITIVE = (
    "the false-reject limit needs a threshold at or below 0 on this set, which the rules "
    "do not take"
)


def _threshold_to_set(
    images: Sequence[_Judged], good: np.ndarray, limit: float, rules: DecisionRules
) -> tuple[float | None, RateInterval | None, str | None]:
    """The rules' threshold whose verdicts keep false rejects within ``limit``, its escapes,
    or why there is none: parts judged by score are accepted below threshold x (1 - review
    margin); parts that fail safe (no finite score, lit unlike the good parts) are
    rejected whatever it is, and count against the limit first."""
    if rules.fail_safe is Verdict.ACCEPT:  # failing safe would be accepting: not a line's rule
        return None, None, "no threshold to set: the rules accept parts they cannot judge"
    scores = np.array([i.score for i in images], dtype=np.float64)
    judged = np.isfinite(scores) & np.array([i.lighting is None for i in images], dtype=bool)
    allowed = math.floor(limit * good.sum() + 1e-9) - int((good & ~judged).sum())
    scored_good = np.sort(scores[good & judged])
    if allowed < 0:
        return None, None, FAIL_SAFE_EXCEEDS
    if allowed >= scored_good.size:
        return None, None, NOT_POSITIVE  # every scored good part may go: reject everything
    cut = float(np.nextafter(scored_good[scored_good.size - 1 - allowed], np.inf))
    if cut <= 0.0:
        return None, None, NOT_POSITIVE
    escaped = int((~good & judged & (scores < cut)).sum())
    to_set = _rounded_up(cut / (1.0 - rules.review_margin))
    return to_set, rate_interval(escaped, int((~good).sum())), None


def _rounded_up(value: float, digits: int = 6) -> float:
    """``value`` rounded up to ``digits`` significant digits, so the threshold people
    type from the report keeps every part it must accept accepted."""
    exponent = math.floor(math.log10(abs(value))) - digits + 1
    step = 10.0**exponent
    return math.ceil(value / step) * step


def acceptance_lines(acceptance: Acceptance) -> list[str]:
    """The verdict in words: the first line PASS or FAIL, then what it rests on."""
    limits = acceptance.criteria
    wanted = [
        f"{what} at most {_limit(limit)}"
        for what, limit in (
            ("false rejects", limits.max_false_reject_rate),
            ("escapes", limits.max_escape_rate),
        )
        if limit is not None
    ]
    lines = [
        f"acceptance: {'PASS' if acceptance.passed else 'FAIL'} ({' and '.join(wanted)}): "
        f"at the threshold in force false rejects {_counted(acceptance.false_rejects)}, "
        f"escapes {_counted(acceptance.escapes)}"
    ]
    if acceptance.unreadable:
        lines.append(
            f"  {acceptance.unreadable} image(s) could not be read and were not judged: "
            "an incomplete set cannot pass"
        )
    if acceptance.escapes_there is not None:
        lines.append(_threshold_line(acceptance, acceptance.escapes_there))
    elif acceptance.no_threshold is not None:
        lines.append(f"  {acceptance.no_threshold}")
    return lines


def _threshold_line(acceptance: Acceptance, there: RateInterval) -> str:
    limits, to_set = acceptance.criteria, acceptance.threshold_to_set
    if not acceptance.passes_there:
        outcome = "no threshold meets the criteria on this set"
        outcome += "" if acceptance.passed else ": the model must improve"
    elif acceptance.passed:
        outcome = "it meets the criteria too"
    else:
        outcome = (
            "it meets the criteria: try it with --threshold, and confirm it on other parts "
            "(it is chosen on this set)"
        )
    caveat = (
        f" (not accounting for {' and '.join(acceptance.not_modelled)})"
        if acceptance.not_modelled
        else ""
    )
    return (
        f"  threshold to set for at most {_limit(limits.max_false_reject_rate)} false "
        f"rejects on this set: {to_set:.6g}{caveat}, where {_counted(there)} would "
        f"escape: {outcome}"
    )


def _limit(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:g} %"


def rate_of(interval: RateInterval | None) -> float:
    """The observed rate of ``interval``; nan without parts."""
    return math.nan if interval is None else interval.events / interval.trials


def _counted(interval: RateInterval | None) -> str:
    if interval is None:
        return "n/a (no such parts)"
    return f"{100 * rate_of(interval):.1f} % ({interval.events} of {interval.trials})"


def _within(rate: float, limit: float | None) -> bool:
    return limit is None or (math.isfinite(rate) and rate <= limit + 1e-12)
