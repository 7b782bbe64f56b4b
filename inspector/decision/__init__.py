"""Decisions: thresholds and region rules turn raw model output into verdicts."""

from inspector.decision.decide import decide
from inspector.decision.regions import find_defect_regions
from inspector.decision.rules import DecisionRules

__all__ = ["DecisionRules", "decide", "find_defect_regions"]
