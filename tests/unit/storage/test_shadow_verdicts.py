"""Shadow verdicts are linked to their parts and compared with production and with reviews."""

from __future__ import annotations

import math

from sqlalchemy import Engine, select

from inspector.core.inspection import ShadowVerdict
from inspector.core.verdict import Verdict
from inspector.storage.repository import add_inspections, record_from_inspection
from inspector.storage.reviews import add_review
from inspector.storage.schema import ShadowVerdictRow
from inspector.storage.shadow import add_shadow_verdicts, latest_shadow_version, shadow_comparison
from tests.unit.storage.conftest import LineWriting, MakeInspection

A, R, V = Verdict.ACCEPT, Verdict.REJECT, Verdict.REVIEW

# (production verdict, production error, shadow verdict or None = not shadowed, review)
PARTS = [
    (A, None, A, None),  # agree
    (A, None, A, ("confirm", None)),  # agree; reviewed good
    (R, None, R, ("confirm", "crack")),  # agree; reviewed defect
    (A, None, R, None),  # shadow stricter
    (A, None, V, ("reclassify", "crack")),  # stricter; production escape, shadow catches it
    (R, None, A, ("false_reject", None)),  # looser; production false reject, shadow right
    (R, None, A, ("confirm", "dent")),  # looser; shadow would let a dent escape
    (V, None, R, ("false_reject", None)),  # agree (both to the reject bin); both false reject
    (A, None, None, None),  # not shadowed (behind)
    (R, "not inspected: inference queue full", A, None),  # production fail-safe: not compared
]


def _shadow(inspection, verdict):  # noqa: ANN001, ANN202 - test data
    if verdict is None:
        return ShadowVerdict(inspection, "cand-2", None, math.nan, math.nan, math.nan, "behind")
    score = 0.9 if verdict is not A else 0.1
    return ShadowVerdict(inspection, "cand-2", verdict, score, 0.5, 3.0)


def test_verdicts_link_to_their_parts_and_the_comparison_counts_each_case(
    engine: Engine, make_inspection: MakeInspection
) -> None:
    inspections = [
        make_inspection(n, verdict, error=error) for n, (verdict, error, _, _) in enumerate(PARTS)
    ]
    ids = add_inspections(engine, [record_from_inspection(i, "s1", None) for i in inspections])
    other_station = make_inspection(99)
    add_inspections(engine, [record_from_inspection(other_station, "s2", None)])
    shadows = [_shadow(i, p[2]) for i, p in zip(inspections, PARTS, strict=True)]
    assert add_shadow_verdicts(engine, "s1", shadows) == len(PARTS)
    unknown = make_inspection(500)  # never recorded: its shadow verdict cannot be linked
    assert add_shadow_verdicts(engine, "s1", [_shadow(unknown, A), _shadow(other_station, A)]) == 0

    with engine.connect() as connection:
        rows = connection.execute(
            select(ShadowVerdictRow.inspection_id, ShadowVerdictRow.verdict).order_by(
                ShadowVerdictRow.id
            )
        ).all()
    assert rows == [(ids[n], None if p[2] is None else p[2].value) for n, p in enumerate(PARTS)]
    for inspection_id, (_, _, _, review) in zip(ids, PARTS, strict=True):
        if review is not None:
            decision, defect_class = review
            add_review(
                engine,
                inspection_id,
                reviewer="qa.kim",
                decision=decision,
                defect_class=defect_class,
            )

    result = shadow_comparison(engine, "s1", "cand-2")
    assert (result.parts, result.not_shadowed, result.production_not_inspected) == (10, 1, 1)
    assert (result.compared, result.agreed, result.stricter, result.looser) == (8, 4, 2, 2)
    assert result.agreement_rate == 0.5
    assert (result.reviewed, result.reviewed_defective, result.reviewed_good) == (6, 3, 3)
    assert (result.production_escapes, result.production_false_rejects) == (1, 2)
    assert (result.shadow_escapes, result.shadow_false_rejects) == (1, 1)
    assert latest_shadow_version(engine, "s1") == "cand-2"
    assert latest_shadow_version(engine, "s2") is None
    assert shadow_comparison(engine, "s1", "other-model").parts == 0


def test_the_latest_review_counts(engine: Engine, make_inspection: MakeInspection) -> None:
    inspection = make_inspection(0, R)
    [inspection_id] = add_inspections(engine, [record_from_inspection(inspection, "s1", None)])
    add_shadow_verdicts(engine, "s1", [_shadow(inspection, A)])
    add_review(engine, inspection_id, reviewer="qa", decision="confirm", defect_class="crack")
    assert shadow_comparison(engine, "s1", "cand-2").shadow_escapes == 1
    add_review(engine, inspection_id, reviewer="qa2", decision="false_reject")
    result = shadow_comparison(engine, "s1", "cand-2")
    assert (result.shadow_escapes, result.production_false_rejects) == (0, 1)


def test_storing_waits_for_a_line_writing_meanwhile_instead_of_failing(
    sqlite_engine: Engine, make_inspection: MakeInspection, line_writes_meanwhile: LineWriting
) -> None:
    """Storing looks each part up, then writes: a line's writer committing in between
    must make it wait, not fail with "database is locked"."""
    inspection = make_inspection(0, R)
    add_inspections(sqlite_engine, [record_from_inspection(inspection, "s1", None)])
    with line_writes_meanwhile():
        assert add_shadow_verdicts(sqlite_engine, "s1", [_shadow(inspection, A)]) == 1
    assert latest_shadow_version(sqlite_engine, "s1") == "cand-2"
