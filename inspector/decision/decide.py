"""Sorting one part: model output + rules → verdict and defects."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from inspector.core.inspection import Defect, ModelOutput
from inspector.core.verdict import Verdict
from inspector.decision.class_rules import UNCLASSIFIED_KIND, PartClass, part_class
from inspector.decision.regions import find_defect_regions
from inspector.decision.rules import DecisionRules
from inspector.decision.zones import threshold_map, zone_at


def decide(
    output: ModelOutput, rules: DecisionRules, *, lighting_fault: str | None = None
) -> tuple[Verdict, tuple[Defect, ...]]:
    """Apply ``rules`` to one model output.

    REJECT needs a score at or over the threshold *and* at least one region of the
    minimum area; over the threshold with only tiny regions is REVIEW (a person
    decides), as is a score in the review band just below the threshold. A score
    that is not a finite number cannot be trusted and gets the fail-safe verdict.
    A frame lit unlike the model's good parts (``lighting_fault``: why, from
    :mod:`inspector.ml.lighting`) is not trusted either: it gets the fail-safe
    verdict too, unless the model's own verdict is stricter (a part it rejects
    stays rejected whatever the fail-safe verdict is).
    With zones, "over the threshold" is judged pixel by pixel against each
    zone's own threshold, and ignored zones never count.

    With class probabilities (a classifier beside the anomaly model), every
    defect is named after the part's most probable defect class, with that
    class's probability as its confidence, and that class's rule (own threshold
    and minimum area, zones still winning in their areas) replaces the
    station's for the part. A part over the threshold goes to REVIEW as
    ``unclassified`` when its class is less probable than the rule's minimum
    confidence, and gets ``rules.on_classifier_good`` (REVIEW by default) when
    the classifier's top class is ``good``. The classifier names the class of
    the whole image, so several regions of different kinds on one part all get
    the part's class.
    """
    if not math.isfinite(output.score):
        return rules.fail_safe, ()
    verdict, defects = _judged(output, rules)
    if lighting_fault and lighting_overrides(verdict, rules):
        return rules.fail_safe, ()
    return verdict, defects


def lighting_overrides(verdict: Verdict, rules: DecisionRules) -> bool:
    """Whether a frame lit unlike the model's good parts gets the fail-safe verdict instead
    of the model's ``verdict``: always, unless ``verdict`` is at least as strict (a part
    the model rejects stays rejected whatever the fail-safe verdict is)."""
    return verdict.strictness < rules.fail_safe.strictness


def _judged(output: ModelOutput, rules: DecisionRules) -> tuple[Verdict, tuple[Defect, ...]]:
    """:func:`decide` for a finite score and a frame lit as taught."""
    named = part_class(output.class_probabilities, rules.classes)
    rule = named.rule_in_force if named is not None else None
    threshold = rule.threshold if rule is not None and rule.threshold is not None else None
    base = rules.threshold if threshold is None else threshold
    if rules.zones:
        thresholds = threshold_map(output.anomaly_map.shape, base, rules.zones)
        exceedance = float(np.max(output.anomaly_map / thresholds))
    else:
        thresholds = base
        exceedance = output.score / base
    if exceedance < 1.0 - rules.review_margin:
        return Verdict.ACCEPT, ()
    if exceedance < 1.0:
        return Verdict.REVIEW, ()
    shape = output.anomaly_map.shape
    default_area = rules.min_defect_area_px
    if rule is not None and rule.min_defect_area_px is not None:
        default_area = rule.min_defect_area_px
    found = find_defect_regions(output.anomaly_map, thresholds)
    defects = tuple(d for d in found if d.area_px >= _min_area(d, rules, shape, default_area))
    if named is None:
        return (Verdict.REJECT if defects else Verdict.REVIEW), defects
    return _classified(defects, named, rules)


def _classified(
    defects: tuple[Defect, ...], named: PartClass, rules: DecisionRules
) -> tuple[Verdict, tuple[Defect, ...]]:
    """Verdict and named defects of a part over the threshold, given its class."""
    kind = UNCLASSIFIED_KIND if named.unclassified and not named.says_good else named.name
    defects = tuple(replace(d, kind=kind, confidence=named.probability) for d in defects)
    if not defects:
        return Verdict.REVIEW, ()
    if named.says_good:
        verdict = rules.on_classifier_good
        return verdict, (() if verdict is Verdict.ACCEPT else defects)
    if named.unclassified:
        return Verdict.REVIEW, defects
    return Verdict.REJECT, defects


def _min_area(
    defect: Defect, rules: DecisionRules, shape: tuple[int, int], default_area: int
) -> int:
    """The minimum area that applies where the defect's box is centred."""
    x, y, w, h = defect.box
    zone = zone_at(rules.zones, shape, y + h // 2, x + w // 2) if rules.zones else None
    if zone is not None and zone.min_defect_area_px is not None:
        return zone.min_defect_area_px
    return default_area
