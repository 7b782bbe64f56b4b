"""Shadow mode: a candidate scores every part beside production, stored, driving nothing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from inspector.decision import DecisionRules, decide
from inspector.ml.backend import open_inferencer
from inspector.pipeline.shadow import NOT_SHADOWED_BEHIND, ShadowRunner, shadow_rules
from inspector.pipeline.station import Station
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.schema import InspectionRow, ShadowVerdictRow
from inspector.storage.shadow import shadow_comparison
from inspector.storage.writer import RecordWriter
from tests.tiny_models import defective_part, tiny_pair
from tests.unit.ml.synthetic_parts import textured_part
from tests.unit.pipeline.helpers import ContrastScorer, ListSink, ListSource, part


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_pair(tmp_path_factory.getbasetemp() / "tiny-models")


def _joined(db: Path) -> list[tuple]:
    """(part id, production verdict, shadow verdict, shadow score, shadow error) per shadow row."""
    engine = open_database(db)
    i, s = InspectionRow.__table__.c, ShadowVerdictRow.__table__.c
    statement = (
        select(i.part_id, i.verdict, s.verdict, s.score, s.error, s.model_version)
        .join(ShadowVerdictRow.__table__, s.inspection_id == i.id)
        .order_by(i.part_id)
    )
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(statement)]
    engine.dispose()
    return rows


def _station(tmp_path: Path, images, production, make_shadow, **options) -> Station:  # noqa: ANN001
    """A station writing to a real database, its shadow built by ``make_shadow(submit)``."""
    engine = open_database(tmp_path / "line.db")
    writer = RecordWriter(engine, ImageStore(tmp_path / "images"), station="s1", keep_good_every=0)
    runner = make_shadow(writer.submit_shadow)
    return Station(
        lambda: ListSource(images, interval_s=options.pop("interval_s", 0.0)),
        production,
        DecisionRules(threshold=production.default_threshold),
        sink=writer,
        shadow=runner,
        station_name="s1",
        **options,
    )


def test_every_part_gets_the_shadow_verdict_its_model_gives_it(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    production = open_inferencer(models[0], "auto", device="cpu")
    candidate = open_inferencer(models[1], "auto", device="cpu")
    images = [textured_part(300 + n) if n % 2 else defective_part(300 + n) for n in range(12)]
    gate = ListSink()
    rules = shadow_rules(DecisionRules(threshold=production.default_threshold), candidate)
    station = _station(
        tmp_path,
        images,
        production,
        lambda submit: ShadowRunner(candidate, rules, submit, max_batch=4),
        max_batch=4,
        gate=gate,
    )
    station.start()
    assert station.wait(60)
    station.stop()

    rows = _joined(tmp_path / "line.db")
    assert [row[0] for row in rows] == list(range(12))  # one shadow row per part
    expected = candidate.predict(images)
    assert rules.threshold == candidate.default_threshold
    assert [row[2] for row in rows] == [decide(o, rules)[0].value for o in expected]
    np.testing.assert_allclose([row[3] for row in rows], [o.score for o in expected], rtol=1e-4)
    assert {row[5] for row in rows} == {candidate.version}
    assert all(row[4] is None for row in rows)
    # The gate got production's verdicts, every part, in order: the shadow drove nothing.
    assert [i.frame.part_id for i in gate.items] == list(range(12))
    assert {i.model_version for i in gate.items} == {production.version}
    assert [i.verdict.value for i in gate.items] == [row[1] for row in rows]

    engine = open_database(tmp_path / "line.db")
    comparison = shadow_comparison(engine, "s1", candidate.version)
    engine.dispose()
    agreed = sum((row[1] == "accept") == (row[2] == "accept") for row in rows)
    assert (comparison.parts, comparison.compared, comparison.agreed) == (12, 12, agreed)


def test_a_slow_shadow_skips_parts_and_counts_them_instead_of_slowing_the_line(
    tmp_path: Path,
) -> None:
    slow = ContrastScorer(delay_s=0.25)
    slow.version = "slow-candidate"
    alarms = []
    runners: list[ShadowRunner] = []

    def make_shadow(submit):  # noqa: ANN001, ANN202
        runners.append(
            ShadowRunner(
                slow, DecisionRules(threshold=0.5), submit, queue_size=1, on_alarm=alarms.append
            )
        )
        return runners[0]

    images = [part(n % 3 == 0) for n in range(40)]
    station = _station(tmp_path, images, ContrastScorer(), make_shadow, max_batch=4)
    started = time.monotonic()
    station.start()
    assert station.wait(30)
    line_seconds = time.monotonic() - started
    station.stop()

    rows = _joined(tmp_path / "line.db")
    assert [row[0] for row in rows] == list(range(40))  # every part accounted for
    skipped = [row for row in rows if row[2] is None]
    assert skipped and all(row[4] == NOT_SHADOWED_BEHIND for row in skipped)
    [runner] = runners
    assert runner.not_shadowed == len(skipped) and runner.shadowed == 40 - len(skipped)
    assert line_seconds < 40 * 0.25 / 4  # shadowing every part would have taken this long
    assert [a.message for a in alarms] == ["shadow model is behind the line: parts not shadowed"]
