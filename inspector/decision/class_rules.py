"""Per-class decision rules: what a defect classifier's class changes about a part's verdict.

The anomaly model finds *where* something is wrong; a whole-image defect
classifier run beside it says *what* it is. A part's class is the classifier's
most probable class other than ``good``; a :class:`ClassRule` for that class
gives it its own threshold and minimum defect area (a crack may be rejected
earlier than a stain) and, optionally, a minimum classifier confidence below
which the part goes to a person as ``unclassified``.

The classifier never accepts on its own what the anomaly model rejects: when
it says ``good`` about a part over the threshold, the part gets
``DecisionRules.on_classifier_good`` (REVIEW unless the station's rules say
otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inspector.core.errors import ModelPackageError

#: The class a defect classifier uses for defect-free parts.
GOOD_CLASS = "good"
#: Defect kind of a part whose class the classifier is not sure enough of.
UNCLASSIFIED_KIND = "unclassified"


@dataclass(frozen=True)
class ClassRule:
    """The rules for parts the classifier names as one defect class.

    Attributes:
        name: Class name, as the classifier package spells it.
        threshold: Anomaly threshold for parts of this class (None: the station's);
            zones with their own threshold still override it in their area.
        min_defect_area_px: Minimum defect area for parts of this class (None: the
            station's); a zone's own minimum area still wins in that zone.
        min_confidence: Classifier probability (0..1) below which a defective part
            of this class goes to REVIEW as ``unclassified`` (None: no minimum).
    """

    name: str
    threshold: float | None = None
    min_defect_area_px: int | None = None
    min_confidence: float | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            msg = "a class rule needs the name of a class of the classifier"
            raise ValueError(msg)
        if self.name == GOOD_CLASS:
            msg = (
                f"class rule {self.name!r}: rules are for defect classes; what happens when "
                "the classifier says good is set by on_classifier_good"
            )
            raise ValueError(msg)
        if self.threshold is not None and not (
            math.isfinite(self.threshold) and self.threshold > 0
        ):
            msg = (
                f"class rule {self.name!r}: threshold must be a positive number, "
                f"got {self.threshold!r}"
            )
            raise ValueError(msg)
        if self.min_defect_area_px is not None and self.min_defect_area_px < 0:
            msg = f"class rule {self.name!r}: min_defect_area_px must be >= 0"
            raise ValueError(msg)
        if self.min_confidence is not None and not 0.0 <= self.min_confidence <= 1.0:
            msg = (
                f"class rule {self.name!r}: min_confidence must be in [0, 1], "
                f"got {self.min_confidence!r}"
            )
            raise ValueError(msg)


@dataclass(frozen=True)
class PartClass:
    """What the classifier says about one part, read against the class rules.

    Attributes:
        name: The most probable class other than ``good``.
        probability: That class's probability.
        good_probability: Probability of ``good`` (None: the classifier has no such class).
        rule: The rule for :attr:`name`, if the station has one.
    """

    name: str
    probability: float
    good_probability: float | None
    rule: ClassRule | None

    @property
    def says_good(self) -> bool:
        """The classifier's top class is ``good``: it disagrees with a defect finding."""
        return self.good_probability is not None and self.good_probability > self.probability

    @property
    def unclassified(self) -> bool:
        """The class is less probable than its rule's minimum confidence."""
        floor = self.rule.min_confidence if self.rule is not None else None
        return floor is not None and self.probability < floor

    @property
    def rule_in_force(self) -> ClassRule | None:
        """The class rule that applies: only when the classifier names this class first."""
        return None if self.says_good else self.rule


def part_class(
    probabilities: Mapping[str, float] | None, rules: Sequence[ClassRule]
) -> PartClass | None:
    """Read a part's class probabilities; None when there are none to read.

    Raises:
        ValueError: the probabilities name no class other than ``good``.
    """
    if probabilities is None:
        return None
    defects = {name: p for name, p in probabilities.items() if name != GOOD_CLASS}
    if not defects:
        msg = (
            f"class probabilities {dict(probabilities)} name no defect class: use a classifier "
            "trained with at least one defect class"
        )
        raise ValueError(msg)
    name = max(defects, key=defects.__getitem__)
    good = probabilities.get(GOOD_CLASS)
    rule = next((r for r in rules if r.name == name), None)
    return PartClass(name, float(defects[name]), None if good is None else float(good), rule)


def check_class_names(rules: Sequence[ClassRule], classes: Sequence[str], source: str) -> None:
    """Refuse class rules for classes the classifier in use does not have.

    Run when a line starts, so a misspelt class is reported before the first
    part rather than silently never applying.

    Raises:
        ModelPackageError: naming the unknown rules and listing the classifier's classes.
    """
    unknown = [rule.name for rule in rules if rule.name not in classes]
    if unknown:
        known = ", ".join(c for c in classes if c != GOOD_CLASS)
        msg = (
            f"class rule(s) {', '.join(map(repr, unknown))} name classes the classifier "
            f"{source} does not have; its defect classes are: {known}. Fix the names under "
            "[[decision.classes]] or use a classifier trained with those classes"
        )
        raise ModelPackageError(msg)
