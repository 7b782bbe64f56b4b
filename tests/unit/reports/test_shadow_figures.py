"""What the shadow panel shows: counts as labelled figures and a plain assessment."""

from __future__ import annotations

from dataclasses import replace

from inspector.reports.shadow_figures import shadow_assessment, shadow_figures
from inspector.storage.shadow import ShadowComparison

LIVE = ShadowComparison(
    station="s1",
    model_version="cand-2",
    parts=10,
    not_shadowed=1,
    production_not_inspected=1,
    compared=8,
    agreed=6,
    stricter=1,
    looser=1,
    reviewed=4,
    reviewed_defective=2,
    production_escapes=1,
    production_false_rejects=0,
    shadow_escapes=0,
    shadow_false_rejects=1,
)


def test_every_count_is_shown_with_its_label() -> None:
    figures = dict(shadow_figures(LIVE))
    assert figures["parts seen"] == "10"
    assert figures["not shadowed"] == "1"
    assert figures["agreement"] == "75.0 % (6 of 8)"
    assert figures["reviewed parts"] == "4 (2 defective, 2 good)"
    assert figures["escapes: production / shadow"] == "1 / 0"
    assert figures["false rejects: production / shadow"] == "0 / 1"


def test_the_assessment_says_what_the_reviewed_parts_show() -> None:
    assert shadow_assessment(LIVE) == (
        "On 4 reviewed parts: escapes shadow 0 vs production 1 (fewer); "
        "false rejects shadow 1 vs production 0 (more)."
    )
    unreviewed = replace(LIVE, reviewed=0, reviewed_defective=0)
    assert "none reviewed" in shadow_assessment(unreviewed)
    nothing = replace(LIVE, compared=0, agreed=0, stricter=0, looser=0)
    assert shadow_assessment(nothing).startswith("No part compared yet")
    assert dict(shadow_figures(nothing))["agreement"] == "n/a (0 of 0)"
