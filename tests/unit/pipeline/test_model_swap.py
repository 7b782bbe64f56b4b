"""A running line switches model between two parts: nothing lost, nothing scored twice."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from inspector.decision import DecisionRules
from inspector.ml.backend import open_inferencer
from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.pipeline.line import LineSettings, build_line
from inspector.pipeline.runner import LineRunner
from inspector.pipeline.station import LineState, Station
from inspector.storage.deployments import CLASSIFIER, promote
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.schema import InspectionRow
from inspector.storage.writer import RecordWriter
from tests.biased_classifier import save_biased_classifier
from tests.tiny_models import tiny_pair, write_labelled
from tests.unit.ml.synthetic_parts import textured_part
from tests.unit.pipeline.helpers import ListSource

PARTS = 36


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_pair(tmp_path_factory.getbasetemp() / "tiny-models")


def _wait_for(condition, timeout: float = 30.0) -> None:  # noqa: ANN001 - a callable
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _recorded(db: Path) -> list[tuple[int, str, float]]:
    engine = open_database(db)
    c = InspectionRow.__table__.c
    with engine.connect() as connection:
        rows = connection.execute(select(c.part_id, c.model_version, c.threshold).order_by(c.id))
        result = [tuple(row) for row in rows]
    engine.dispose()
    return result


def _line_settings(
    model: Path, tmp_path: Path, goods: int, defects: int, **extra: object
) -> LineSettings:
    """A 30-part line on a looped folder of labelled synthetic parts."""
    folder = write_labelled(tmp_path / "parts", goods=goods, defects=defects)
    return LineSettings(
        source=str(folder / "good"),
        model_dir=model,
        database=tmp_path / "line.db",
        station_name="s1",
        device="cpu",
        rate_hz=15.0,
        loop=True,
        max_parts=30,
        max_batch=2,
        **extra,
    )


def _running_line(model: Path, tmp_path: Path, goods: int, defects: int):  # noqa: ANN202 - Line
    """A 30-part line on a looped folder that polls its deployments every 0.1 s, started."""
    line = build_line(_line_settings(model, tmp_path, goods, defects, deployment_poll_s=0.1))
    line.station.start()
    _wait_for(lambda: line.station.snapshot().inspected >= 5)
    return line


def _finished_versions(line, db: Path) -> list[str]:  # noqa: ANN001 - pipeline Line
    """Wait for the 30-part line to end; every part recorded once; each part's model version."""
    assert line.station.wait(60)
    line.station.stop()
    line.engine.dispose()
    rows = _recorded(db)
    assert sorted(part for part, _, _ in rows) == list(range(30))
    return [version for _, version, _ in rows]


def _switches_once(versions: list[str], old: str, new: str) -> int:
    """Index of the first part scored by ``new``; asserts there is exactly one switch."""
    first_new = versions.index(new)
    assert versions == [old] * first_new + [new] * (len(versions) - first_new)
    return first_new


def test_swap_mid_run_records_every_part_once_and_versions_switch_at_one_point(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    old = open_inferencer(models[0], "auto", device="cpu")
    new = open_inferencer(models[1], "auto", device="cpu")  # loaded off the inference thread
    engine = open_database(tmp_path / "line.db")
    writer = RecordWriter(engine, ImageStore(tmp_path / "images"), station="s1", keep_good_every=0)
    images = [textured_part(200 + i) for i in range(PARTS)]
    station = Station(
        lambda: ListSource(images, interval_s=0.02),
        old,
        DecisionRules(threshold=old.default_threshold),
        sink=writer,
        station_name="s1",
        max_batch=4,
    )
    station.start()
    _wait_for(lambda: station.snapshot().inspected >= 8)
    station.swap_scorer(new, rules=DecisionRules(threshold=new.default_threshold))
    assert station.wait(60)
    station.stop()
    engine.dispose()

    rows = _recorded(tmp_path / "line.db")
    assert sorted(part for part, _, _ in rows) == list(range(PARTS))  # once each, none lost
    first_new = _switches_once([version for _, version, _ in rows], old.version, new.version)
    assert 8 <= first_new < PARTS
    assert {t for _, v, t in rows if v == new.version} == {new.default_threshold}
    assert station.snapshot().inspected == PARTS  # counters went on through the swap
    assert station.model_version == new.version


def test_runner_change_model_swaps_a_running_line_and_keeps_it_running(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    runner = LineRunner(_line_settings(models[0], tmp_path, goods=12, defects=12))
    line = runner.start()
    _wait_for(lambda: line.station.snapshot().inspected >= 5)
    runner.change_model(models[1])  # loaded here, swapped in between two batches
    assert runner.line is line and line.station.state in (LineState.RUNNING, LineState.FINISHED)
    assert line.station.wait(60)
    runner.stop()

    rows = _recorded(tmp_path / "line.db")
    assert sorted(part for part, _, _ in rows) == list(range(30))
    versions = [version for _, version, _ in rows]
    new_version = open_inferencer(models[1], "auto", device="cpu").version
    assert runner.model_version == new_version
    assert 5 <= _switches_once(versions, versions[0], new_version) < 30
    assert runner.settings.model_dir == models[1]


def test_change_model_on_a_stopped_runner_applies_at_the_next_start(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    settings = LineSettings(
        source="demo", model_dir=models[0], database=tmp_path / "l.db", device="cpu"
    )
    runner = LineRunner(settings)
    runner.change_model(models[1])
    assert runner.settings == replace(settings, model_dir=models[1])
    assert runner.line is None


def test_a_promotion_recorded_while_the_line_runs_switches_it_between_two_parts(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    line = _running_line(models[0], tmp_path, goods=12, defects=12)
    promote(line.engine, "s1", models[1], "line-b", actor="eng.ada", reason="better on lot 7")
    versions = _finished_versions(line, tmp_path / "line.db")
    new_version = open_inferencer(models[1], "auto", device="cpu").version
    assert 5 <= _switches_once(versions, versions[0], new_version) < 30
    [switched] = [a for a in line.station.alarms if a.source == "model"]
    assert "switched to" in switched.message and "eng.ada" in switched.message


def test_a_promoted_model_that_cannot_load_leaves_the_line_on_its_model(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    folder = write_labelled(tmp_path / "parts", goods=4, defects=0)
    settings = LineSettings(
        source=str(folder / "good"),
        model_dir=models[0],
        database=tmp_path / "line.db",
        station_name="s1",
        device="cpu",
        rate_hz=10.0,
        loop=True,
        max_parts=12,
        deployment_poll_s=0.1,
    )
    line = build_line(settings)
    line.station.start()
    _wait_for(lambda: line.station.snapshot().inspected >= 2)
    promote(line.engine, "s1", tmp_path / "missing", "ghost", actor="eng", reason="typo")
    assert line.station.wait(60)
    line.station.stop()
    line.engine.dispose()

    versions = {version for _, version, _ in _recorded(tmp_path / "line.db")}
    assert versions == {open_inferencer(models[0], "auto", device="cpu").version}
    [alarm] = [a for a in line.station.alarms if a.source == "model"]
    assert alarm.severity.value == "error" and "ghost" in alarm.message


def test_a_classifier_promoted_while_the_line_runs_joins_it_between_two_parts(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    classifier = save_biased_classifier(tmp_path / "cls", ("good", "crack"), "crack", 0.9)
    line = _running_line(models[0], tmp_path, goods=12, defects=0)
    cls_version = ClassifierInferencer(classifier, device="cpu").version
    promote(
        line.engine, "s1", classifier, cls_version, actor="eng.ada", reason="names cracks",
        role=CLASSIFIER,
    )  # fmt: skip
    versions = _finished_versions(line, tmp_path / "line.db")
    anomaly = open_inferencer(models[0], "auto", device="cpu").version
    assert 5 <= _switches_once(versions, anomaly, f"{anomaly}+{cls_version}") < 30
    [switched] = [a for a in line.station.alarms if a.source == "model"]
    assert "names cracks" in switched.message
