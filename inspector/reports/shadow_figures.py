"""The shadow model's live comparison as labelled figures and one plain-language assessment.

The Models tab's shadow panel shows these every few seconds; they are worked
out here, without Qt, so what the engineer reads before promoting is tested
on its own. The assessment only states what the reviewed parts show; it
never promotes anything.
"""

from __future__ import annotations

import math

from inspector.storage.shadow import ShadowComparison


def shadow_figures(c: ShadowComparison) -> list[tuple[str, str]]:
    """``(label, value)`` rows: parts, agreement, disagreements, and mistakes on reviewed parts."""
    agreement = "n/a" if math.isnan(c.agreement_rate) else f"{100 * c.agreement_rate:.1f} %"
    rows = [
        ("parts seen", str(c.parts)),
        ("not shadowed", str(c.not_shadowed)),
        ("fail-safe in production (not compared)", str(c.production_not_inspected)),
        ("compared", str(c.compared)),
        ("agreement", f"{agreement} ({c.agreed} of {c.compared})"),
        ("shadow stricter (would reject, production accepted)", str(c.stricter)),
        ("shadow looser (would accept, production rejected)", str(c.looser)),
        (
            "reviewed parts",
            f"{c.reviewed} ({c.reviewed_defective} defective, {c.reviewed_good} good)",
        ),
        ("escapes: production / shadow", f"{c.production_escapes} / {c.shadow_escapes}"),
        (
            "false rejects: production / shadow",
            f"{c.production_false_rejects} / {c.shadow_false_rejects}",
        ),
    ]
    return rows


def shadow_assessment(c: ShadowComparison) -> str:
    """One sentence on what the reviewed parts say about the shadow against production."""
    if c.compared == 0:
        return "No part compared yet: the shadow model has not scored a part production decided."
    if c.reviewed == 0:
        return (
            f"{c.compared} parts compared, none reviewed: review some parts (Review tab) to see "
            "the escapes and false rejects each model would make."
        )
    return (
        f"On {c.reviewed} reviewed parts: escapes "
        f"{_versus(c.shadow_escapes, c.production_escapes)}; false rejects "
        f"{_versus(c.shadow_false_rejects, c.production_false_rejects)}."
    )


def _versus(shadow: int, production: int) -> str:
    word = "same" if shadow == production else "fewer" if shadow < production else "more"
    return f"shadow {shadow} vs production {production} ({word})"
