"""A station runs its recorded deployments; the configured models serve until there are any."""

from __future__ import annotations

from pathlib import Path

from inspector.pipeline.deployed_models import apply_deployments
from inspector.pipeline.line import LineSettings
from inspector.pipeline.station_config import load_station_config
from inspector.storage.deployments import (
    CLASSIFIER,
    promote,
    rollback,
    start_shadow,
    stop_shadow,
)
from inspector.storage.engine import open_database


def test_the_station_file_names_a_shadow_model_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    file = tmp_path / "conf" / "station.toml"
    file.write_text('[model]\npath = "../models/a"\nshadow = "../models/candidate"\n')
    settings = load_station_config(file).line_settings()
    assert settings.shadow_model_dir == (tmp_path / "models" / "candidate").resolve()
    assert load_station_config(_empty(tmp_path)).line_settings().shadow_model_dir is None


def _empty(tmp_path: Path) -> Path:
    file = tmp_path / "empty.toml"
    file.write_text("")
    return file


def test_recorded_deployments_win_over_the_configured_models_and_say_so(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "line.db")
    configured = LineSettings(
        model_dir=tmp_path / "a", shadow_model_dir=tmp_path / "cand", station_name="s1"
    )
    untouched = apply_deployments(configured, engine)
    assert (untouched.settings, untouched.notes) == (configured, ())

    promote(engine, "s1", tmp_path / "a", "a-1", actor="eng", reason="first")
    promote(engine, "s1", tmp_path / "b", "b-1", actor="eng", reason="better")
    promote(engine, "other", tmp_path / "x", "x-1", actor="eng", reason="other line")
    deployed = apply_deployments(configured, engine)
    assert deployed.settings.model_dir == (tmp_path / "b").resolve()
    assert deployed.settings.shadow_model_dir == tmp_path / "cand"  # no shadow recorded yet
    [note] = deployed.notes
    assert "runs its promoted model b-1" in note and str(tmp_path / "a") in note

    rollback(engine, "s1", actor="eng", reason="b worse")
    start_shadow(engine, "s1", tmp_path / "b", "b-1", actor="eng", reason="watch b")
    deployed = apply_deployments(configured, engine)
    assert deployed.settings.model_dir == (tmp_path / "a").resolve()
    assert deployed.settings.shadow_model_dir == (tmp_path / "b").resolve()
    assert len(deployed.notes) == 1  # the configured model is the production one again

    stop_shadow(engine, "s1", actor="eng", reason="done")
    deployed = apply_deployments(configured, engine)
    assert deployed.settings.shadow_model_dir is None  # a recorded stop beats the file
    assert "shadow model is none" in deployed.notes[-1]
    engine.dispose()


def test_a_promoted_classifier_wins_over_the_configured_one_and_says_so(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "line.db")
    configured = LineSettings(
        model_dir=tmp_path / "a", classifier_dir=tmp_path / "cls-1", station_name="s1"
    )
    promote(
        engine,
        "s1",
        tmp_path / "cls-2",
        "cls-2",
        actor="eng",
        reason="names cracks",
        role=CLASSIFIER,
    )
    deployed = apply_deployments(configured, engine)
    assert deployed.settings.classifier_dir == (tmp_path / "cls-2").resolve()
    assert deployed.settings.model_dir == tmp_path / "a"  # the anomaly model's record is apart
    assert deployed.production_id is None and deployed.classifier_id is not None
    [note] = deployed.notes
    assert "runs its promoted classifier cls-2" in note and str(tmp_path / "cls-1") in note
    engine.dispose()
