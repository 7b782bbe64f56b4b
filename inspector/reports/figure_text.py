"""How reports write a figure: one look for rates and scores across every page."""

from __future__ import annotations

import math

NOT_AVAILABLE = "n/a"
"""Written where a figure cannot be computed (no defective parts, no masks, ...)."""


def percent_or_na(value: float | None) -> str:
    """A share as ``12.3 %``; ``n/a`` when it is missing or not finite."""
    return NOT_AVAILABLE if value is None or not math.isfinite(value) else f"{100 * value:.1f} %"


def number_or_na(value: float | None, digits: int = 4) -> str:
    """A score or AUROC to ``digits`` decimals; ``n/a`` when missing or not finite."""
    return NOT_AVAILABLE if value is None or not math.isfinite(value) else f"{value:.{digits}f}"
