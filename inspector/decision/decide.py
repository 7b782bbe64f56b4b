"""Sorting one part: model output + rules → verdict and defects."""

from __future__ import annotations

import math

from inspector.core.inspection import Defect, ModelOutput
from inspector.core.verdict import Verdict
from inspector.decision.regions import find_defect_regions
from inspector.decision.rules import DecisionRules


def decide(output: ModelOutput, rules: DecisionRules) -> tuple[Verdict, tuple[Defect, ...]]:
    """Apply ``rules`` to one model output.

    REJECT needs a score at or over the threshold *and* at least one region of the
    minimum area; over the threshold with only tiny regions is REVIEW (a person
    decides), as is a score in the review band just below the threshold. A score
    that is not a finite number cannot be trusted and gets the fail-safe verdict.
    """
    if not math.isfinite(output.score):
        return rules.fail_safe, ()
    if output.score < rules.review_floor:
        return Verdict.ACCEPT, ()
    if output.score < rules.threshold:
        return Verdict.REVIEW, ()
    defects = find_defect_regions(
        output.anomaly_map, rules.threshold, min_area_px=rules.min_defect_area_px
    )
    return (Verdict.REJECT if defects else Verdict.REVIEW), defects
