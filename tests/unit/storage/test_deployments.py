"""Promotion and rollback are recorded (who, when, why, on which figures) and audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from inspector.core.errors import StorageError
from inspector.storage.audit import audit_entries, verify_audit
from inspector.storage.deployments import (
    DeploymentAction,
    current_production,
    current_shadow,
    deployment_history,
    ever_deployed,
    promote,
    rollback,
    start_shadow,
    stop_shadow,
)


def test_promotions_and_rollbacks_form_a_stack_and_each_is_audited(
    engine: Engine, tmp_path: Path
) -> None:
    metrics = {"verdict": "better", "new": {"image_auroc": 0.97}}
    promote(engine, "press-2", tmp_path / "v1", "m-v1", actor="eng.ada", reason="first model")
    promote(
        engine,
        "press-2",
        tmp_path / "v2",
        "m-v2",
        actor="eng.ada",
        reason="fewer escapes",
        metrics=metrics,
    )
    promote(engine, "other", tmp_path / "x", "m-x", actor="eng.bo", reason="another line")
    assert current_production(engine, "press-2").model_version == "m-v2"

    back = rollback(engine, "press-2", actor="qa.kim", reason="false rejects on lot 7")
    assert (back.action, back.model_version, back.model_path) == (
        DeploymentAction.ROLLBACK,
        "m-v1",
        (tmp_path / "v1").resolve(),
    )
    assert current_production(engine, "press-2").model_version == "m-v1"
    assert current_production(engine, "other").model_version == "m-x"

    history = deployment_history(engine, "press-2")
    assert [(d.action.value, d.model_version, d.actor) for d in history] == [
        ("promote", "m-v1", "eng.ada"),
        ("promote", "m-v2", "eng.ada"),
        ("rollback", "m-v1", "qa.kim"),
    ]
    assert history[1].metrics == metrics
    assert history[1].reason == "fewer escapes"
    assert history[0].at <= history[1].at <= history[2].at

    audited = [
        (e.action, e.subject, e.old_value, e.new_value, e.actor, e.reason)
        for e in audit_entries(engine)
    ]
    assert audited == [
        ("model.promote", "press-2", None, "m-v1", "eng.ada", "first model"),
        ("model.promote", "press-2", "m-v1", "m-v2", "eng.ada", "fewer escapes"),
        ("model.promote", "other", None, "m-x", "eng.bo", "another line"),
        ("model.rollback", "press-2", "m-v2", "m-v1", "qa.kim", "false rejects on lot 7"),
    ]
    assert verify_audit(engine).ok

    with pytest.raises(StorageError, match="nothing to roll back to"):
        rollback(engine, "press-2", actor="qa.kim", reason="again")


def test_rollback_after_a_later_promotion_returns_to_the_model_before_it(
    engine: Engine, tmp_path: Path
) -> None:
    for version in ("a", "b"):
        promote(engine, "s", tmp_path / version, version, actor="eng", reason="r")
    rollback(engine, "s", actor="eng", reason="b was worse")
    promote(engine, "s", tmp_path / "c", "c", actor="eng", reason="try c")
    assert rollback(engine, "s", actor="eng", reason="c was worse").model_version == "a"


def test_bad_requests_are_refused_with_what_to_do(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="promote a model"):
        rollback(engine, "s", actor="eng", reason="why not")
    with pytest.raises(ValueError, match="a reason"):
        promote(engine, "s", tmp_path / "a", "a", actor="eng", reason=" ")
    with pytest.raises(ValueError, match="a user"):
        promote(engine, "s", tmp_path / "a", "a", actor="", reason="r")
    promote(engine, "s", tmp_path / "a", "a", actor="eng", reason="r")
    with pytest.raises(ValueError, match="already the production model"):
        promote(engine, "s", tmp_path / "a", "a", actor="eng", reason="again")
    assert len(deployment_history(engine, "s")) == 1


def test_shadow_runs_start_and_stop(engine: Engine, tmp_path: Path) -> None:
    assert current_shadow(engine, "s") is None
    start_shadow(engine, "s", tmp_path / "cand", "cand-1", actor="eng", reason="try it")
    assert current_shadow(engine, "s").model_version == "cand-1"
    assert current_production(engine, "s") is None  # a shadow is not production
    stop_shadow(engine, "s", actor="eng", reason="enough data")
    assert current_shadow(engine, "s") is None
    with pytest.raises(StorageError, match="no shadow model"):
        stop_shadow(engine, "s", actor="eng", reason="twice")
    actions = [e.action for e in audit_entries(engine)]
    assert actions == ["model.shadow_start", "model.shadow_stop"]


def test_a_folder_any_deployment_names_is_known_as_deployed(engine: Engine, tmp_path: Path) -> None:
    promote(engine, "press-2", tmp_path / "v1", "m-v1", actor="eng.ada", reason="first model")
    promote(engine, "press-2", tmp_path / "v2", "m-v2", actor="eng.ada", reason="second")
    rollback(engine, "press-2", actor="eng.ada", reason="v2 rejects too much")
    # Rolled back or not, a folder a deployment names is history a QA engineer can reopen.
    assert ever_deployed(engine, tmp_path / "v1") and ever_deployed(engine, tmp_path / "v2")
    assert ever_deployed(engine, tmp_path / "sub" / ".." / "v2")  # compared resolved
    assert not ever_deployed(engine, tmp_path / "v3")
