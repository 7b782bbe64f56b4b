"""Sorting one part: model output + rules → verdict and defects."""

from __future__ import annotations

import math

import numpy as np

from inspector.core.inspection import Defect, ModelOutput
from inspector.core.verdict import Verdict
from inspector.decision.regions import find_defect_regions
from inspector.decision.rules import DecisionRules
from inspector.decision.zones import threshold_map, zone_at


def decide(output: ModelOutput, rules: DecisionRules) -> tuple[Verdict, tuple[Defect, ...]]:
    """Apply ``rules`` to one model output.

    REJECT needs a score at or over the threshold *and* at least one region of the
    minimum area; over the threshold with only tiny regions is REVIEW (a person
    decides), as is a score in the review band just below the threshold. A score
    that is not a finite number cannot be trusted and gets the fail-safe verdict.
    With zones, "over the threshold" is judged pixel by pixel against each
    zone's own threshold, and ignored zones never count.
    """
    if not math.isfinite(output.score):
        return rules.fail_safe, ()
    if rules.zones:
        thresholds = threshold_map(output.anomaly_map.shape, rules.threshold, rules.zones)
        exceedance = float(np.max(output.anomaly_map / thresholds))
    else:
        thresholds = rules.threshold
        exceedance = output.score / rules.threshold
    if exceedance < 1.0 - rules.review_margin:
        return Verdict.ACCEPT, ()
    if exceedance < 1.0:
        return Verdict.REVIEW, ()
    shape = output.anomaly_map.shape
    found = find_defect_regions(output.anomaly_map, thresholds)
    defects = tuple(d for d in found if d.area_px >= _min_area(d, rules, shape))
    return (Verdict.REJECT if defects else Verdict.REVIEW), defects


def _min_area(defect: Defect, rules: DecisionRules, shape: tuple[int, int]) -> int:
    """The minimum area that applies where the defect's box is centred."""
    x, y, w, h = defect.box
    zone = zone_at(rules.zones, shape, y + h // 2, x + w // 2) if rules.zones else None
    if zone is not None and zone.min_defect_area_px is not None:
        return zone.min_defect_area_px
    return rules.min_defect_area_px
