"""The explicit, versioned rule set that sorts parts."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace

from inspector.core.verdict import Verdict
from inspector.decision.class_rules import ClassRule
from inspector.decision.zones import Zone


@dataclass(frozen=True)
class DecisionRules:
    """Thresholds owned by the decision layer, never baked into a model.

    A new threshold takes effect on the next part without re-exporting a model,
    and its value (and the rules' version) is stored with every record.

    Attributes:
        threshold: Anomaly score at and above which a part is defective.
        review_margin: Parts scoring within this fraction below the threshold go to
            REVIEW instead of ACCEPT (0 disables the review band).
        min_defect_area_px: Regions smaller than this are not counted as defects; a
            part over threshold whose regions are all smaller goes to REVIEW.
        fail_safe: Verdict for parts that could not be inspected (unreadable image,
            queue overflow, missed deadline, inference failure).
        zones: Areas with their own rules (ignored, own threshold or minimum area).
        classes: Rules for parts a defect classifier names as one class (own
            threshold, minimum area, minimum confidence); they apply only when
            the model output carries class probabilities.
        on_classifier_good: Verdict for a part over the threshold that the
            classifier calls ``good``. REVIEW by default (fail-safe: the classifier
            never silently accepts what the anomaly model rejects); ACCEPT only
            when an engineer writes it into the rules.
    """

    threshold: float
    review_margin: float = 0.05
    min_defect_area_px: int = 16
    fail_safe: Verdict = Verdict.REJECT
    zones: tuple[Zone, ...] = ()
    classes: tuple[ClassRule, ...] = ()
    on_classifier_good: Verdict = Verdict.REVIEW

    def __post_init__(self) -> None:
        if not math.isfinite(self.threshold) or self.threshold <= 0:
            msg = f"threshold must be a positive number, got {self.threshold!r}"
            raise ValueError(msg)
        if not 0.0 <= self.review_margin < 1.0:
            msg = f"review_margin must be in [0, 1), got {self.review_margin!r}"
            raise ValueError(msg)
        if self.min_defect_area_px < 0:
            msg = f"min_defect_area_px must be >= 0, got {self.min_defect_area_px!r}"
            raise ValueError(msg)
        if not isinstance(self.fail_safe, Verdict):
            object.__setattr__(self, "fail_safe", Verdict(self.fail_safe))
        if not isinstance(self.on_classifier_good, Verdict):
            object.__setattr__(self, "on_classifier_good", Verdict(self.on_classifier_good))
        names = [rule.name for rule in self.classes]
        if len(set(names)) != len(names):
            twice = sorted({name for name in names if names.count(name) > 1})
            msg = f"class rules name {', '.join(twice)} more than once: keep one rule per class"
            raise ValueError(msg)

    @property
    def review_floor(self) -> float:
        """Lowest score that goes to REVIEW rather than ACCEPT."""
        return self.threshold * (1.0 - self.review_margin)

    @property
    def version(self) -> str:
        """Stable identifier of these exact rules, stored with every record.

        Rules without class rules and with the default ``on_classifier_good``
        hash exactly as before those settings existed, so stored versions of
        older rules stay comparable.
        """
        fields = asdict(self)
        fields["fail_safe"] = self.fail_safe.value
        fields["on_classifier_good"] = self.on_classifier_good.value
        if not self.classes and self.on_classifier_good is Verdict.REVIEW:
            del fields["classes"], fields["on_classifier_good"]
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        return f"rules-v1-{digest[:8]}"

    def with_threshold(self, threshold: float) -> DecisionRules:
        """Return the same rules with another threshold (for run-time changes)."""
        return replace(self, threshold=threshold)
