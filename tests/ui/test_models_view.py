"""The Models tab: real training in a child process, cancel, promote, rollback, shadow."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from inspector.core import Frame, Inspection, Verdict
from inspector.core.inspection import ShadowVerdict
from inspector.reports.compare_report import compare_runs, write_compare_report
from inspector.storage import deployments
from inspector.storage.audit import audit_entries
from inspector.storage.engine import open_database
from inspector.storage.repository import add_inspections, record_from_inspection
from inspector.storage.reviews import add_review
from inspector.storage.shadow import add_shadow_verdicts
from inspector.storage.users import Role, add_user
from inspector.training.launch import TrainRequest
from inspector.ui.access import AccessControl
from inspector.ui.models_view import ModelsView
from tests.ui.test_access import when_modal
from tests.unit.reports.test_compare_report import BASELINE, BETTER, _run
from tests.unit.training.synthetic_classes import write_dataset

STATION = "s1"
A, R = Verdict.ACCEPT, Verdict.REJECT


@pytest.fixture
def engine(tmp_path: Path):
    engine = open_database(tmp_path / "data" / "records.db")
    add_user(engine, "zoe", Role.ADMIN, "admin-password", actor="zoe")
    add_user(engine, "eng", Role.ENGINEER, "eng-password", actor="zoe")
    yield engine
    engine.dispose()


@pytest.fixture
def view(qtbot, engine, tmp_path: Path) -> ModelsView:
    access = AccessControl(lambda: engine, idle_minutes=5)
    assert access.session().login("eng", "eng-password") is not None
    view = ModelsView(lambda: engine, access, STATION, lambda: tmp_path / "configured-model")
    qtbot.addWidget(view)
    return view


def _request(tmp_path: Path, head_epochs: int) -> TrainRequest:
    data = write_dataset(tmp_path / "labelled", per_class=6)
    return TrainRequest(
        data, tmp_path / "new-model", image_size=64, head_epochs=head_epochs, epochs=0, views=1
    )


def test_a_tiny_training_run_shows_progress_and_curves_and_offers_its_package(
    qtbot, view: ModelsView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the child shares 2 busy cores
    panel = view.training
    request = _request(tmp_path, head_epochs=3)
    with qtbot.waitSignal(panel.process.finished, timeout=180_000) as finished:
        assert panel.start(request)
        assert not panel.start_button.isEnabled() and panel.cancel_button.isEnabled()
    assert finished.args == [0, True], panel.log.toPlainText()
    assert panel.saved == request.out, (panel.log.toPlainText(), panel.stage.text())
    assert (request.out / "model.json").is_file()
    assert panel.curves.epochs == [1, 2, 3]
    assert all(math.isfinite(v) for v in panel.curves.values["train_loss"])
    assert panel.progress.value() == 1000
    log = panel.log.toPlainText().splitlines()
    assert "reading images: 18/18" in log  # the command's stderr
    saved = [n for n, line in enumerate(log) if line.startswith("saved model")]
    assert saved and saved[0] > log.index("evaluate: 1/1")  # the summary: last, not dropped
    assert view.compare.candidate.text() == str(request.out)
    assert panel.start_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_cancel_stops_the_child_cleanly_and_writes_nothing(
    qtbot, view: ModelsView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    panel = view.training
    request = _request(tmp_path, head_epochs=5000)
    assert panel.start(request)
    qtbot.waitUntil(lambda: len(panel.curves.epochs) >= 1, timeout=180_000)
    with qtbot.waitSignal(panel.process.finished, timeout=60_000) as finished:
        panel.cancel()
    assert finished.args == [130, True]  # the CLI's own clean cancel path, not a kill
    assert panel.message.text() == "cancelled: nothing was written"
    assert not request.out.exists()
    assert not list(tmp_path.glob("new-model*"))  # no half-written .partial folder either


def _write_comparison(tmp_path: Path, new_version: str, *, worse: bool = False) -> Path:
    """A real compare report of candidate ``new_version`` (package folder ``NAME-pkg``)."""
    data = tmp_path / "labelled-set"
    ours, theirs = (BASELINE, BETTER) if worse else (BETTER, BASELINE)
    new = replace(_run(data, new_version, ours), model_dir=tmp_path / f"{new_version}-pkg")
    old = replace(_run(data, "old-1", theirs), model_dir=tmp_path / "old-pkg")
    return write_compare_report(new, old, compare_runs(new, old), tmp_path / f"cmp-{new_version}")


def test_promote_then_rollback_are_recorded_with_the_logged_in_engineer(
    qtbot, view: ModelsView, engine, tmp_path: Path
) -> None:
    deployments.promote(engine, STATION, tmp_path / "old-pkg", "old-1", actor="zoe", reason="first")
    panel = view.compare
    panel.refresh()
    assert "old-1" in panel.production.text()
    report = _write_comparison(tmp_path, "new-1").parent
    assert panel.promote() is None and "compare the candidate" in panel.message.text()
    outcome = panel.show_report(report)
    assert outcome is not None and panel.verdict.text().startswith("better: new-1 vs old-1")
    assert panel.figures.rowCount() == len(outcome.key_figures())
    assert panel.promote() is None and "reason" in panel.message.text()  # nothing recorded yet

    panel.reason.setText("fewer escapes on the March set")
    promoted = panel.promote()
    assert promoted is not None and promoted.actor == "eng"
    assert promoted.metrics["verdict"] == "better"
    assert deployments.current_production(engine, STATION).model_version == "new-1"
    assert "new-1" in panel.production.text()
    assert panel.history.item(0, 1).text() == "promote" and panel.history.item(0, 4).text() == "eng"

    def confirm(dialog: QInputDialog) -> None:
        dialog.setTextValue("false rejects went up on the line")
        dialog.accept()

    seen = when_modal(qtbot, confirm)
    rolled = panel.rollback()
    assert seen == ["QInputDialog"]
    assert rolled is not None and rolled.actor == "eng" and rolled.model_version == "old-1"
    assert deployments.current_production(engine, STATION).model_version == "old-1"
    history = deployments.deployment_history(engine, STATION)
    assert [(d.action.value, d.model_version, d.actor) for d in history] == [
        ("promote", "old-1", "zoe"),
        ("promote", "new-1", "eng"),
        ("rollback", "old-1", "eng"),
    ]
    assert history[-1].reason == "false rejects went up on the line"
    audited = [(e.action, e.actor) for e in audit_entries(engine) if e.action.startswith("model.")]
    assert audited[-2:] == [("model.promote", "eng"), ("model.rollback", "eng")]
    assert panel.history.rowCount() == 3 and panel.history.item(0, 1).text() == "rollback"

    cancelled = when_modal(qtbot, lambda dialog: dialog.reject())
    assert panel.rollback() is None and cancelled == ["QInputDialog"]
    assert len(deployments.deployment_history(engine, STATION)) == 3


def _inspection(part_id: int, verdict: Verdict) -> Inspection:
    frame = Frame(
        image=np.zeros((8, 8, 3), np.uint8),
        camera_id="cam0",
        part_id=part_id,
        timestamp=float(part_id),
        captured_at=datetime(2026, 5, 9, 13, 0, tzinfo=UTC) + timedelta(seconds=part_id),
        origin="test",
    )
    return Inspection(frame, verdict, 0.3, 0.5, (), None, "prod-1", "rules-1", 4.0, 9.0)


def _live_parts(engine, first: int, parts: list[tuple[Verdict, Verdict | None]]) -> list[int]:
    """Record parts of the station and what the shadow ``cand-2`` made of each."""
    inspections = [_inspection(first + n, production) for n, (production, _) in enumerate(parts)]
    ids = add_inspections(engine, [record_from_inspection(i, STATION, None) for i in inspections])
    shadows = [
        ShadowVerdict(i, "cand-2", None, math.nan, math.nan, math.nan, "shadow behind")
        if shadow is None
        else ShadowVerdict(i, "cand-2", shadow, 0.9 if shadow is R else 0.1, 0.5, 3.0)
        for i, (_, shadow) in zip(inspections, parts, strict=True)
    ]
    assert add_shadow_verdicts(engine, STATION, shadows) == len(parts)
    return ids


def test_the_shadow_panel_starts_shows_live_figures_and_stops(
    qtbot, view: ModelsView, engine, tmp_path: Path
) -> None:
    shadow = view.shadow
    shadow.reason.setText("try the candidate on live parts")
    assert shadow.start_shadow() is None and "compare a candidate first" in shadow.message.text()
    view.compare.show_report(_write_comparison(tmp_path, "cand-2").parent)
    started = shadow.start_shadow()
    assert started is not None and started.actor == "eng" and started.model_version == "cand-2"
    assert "Shadow model: cand-2" in shadow.model.text()

    ids = _live_parts(engine, 0, [(A, A), (A, R), (R, A), (R, R), (A, None)])
    add_review(engine, ids[1], reviewer="qa", decision="reclassify", defect_class="crack")
    add_review(engine, ids[2], reviewer="qa", decision="false_reject")
    shadow.refresh()
    shown = {label: value.text() for label, value in shadow.values.items()}
    assert shown["parts seen"] == "5" and shown["not shadowed"] == "1"
    assert shown["agreement"] == "50.0 % (2 of 4)"
    assert shown["shadow stricter (would reject, production accepted)"] == "1"
    assert shown["shadow looser (would accept, production rejected)"] == "1"
    assert shown["escapes: production / shadow"] == "1 / 0"
    assert shown["false rejects: production / shadow"] == "1 / 0"
    assert "(fewer)" in shadow.assessment.text()

    view.show()  # the live refresh runs while the tab is visible
    _live_parts(engine, 100, [(A, A), (A, A)])
    qtbot.waitUntil(lambda: shadow.values["parts seen"].text() == "7", timeout=10_000)
    assert shadow.values["agreement"].text() == "66.7 % (4 of 6)"

    shadow.reason.setText("enough seen")
    stopped = shadow.stop_shadow()
    assert stopped is not None and stopped.actor == "eng"
    assert deployments.current_shadow(engine, STATION) is None
    assert shadow.model.text() == "No shadow model runs; the last one was cand-2:"
    assert not shadow.stop_button.isEnabled()


def test_model_actions_ask_for_an_engineer_when_nobody_is_logged_in(
    qtbot, engine, tmp_path: Path
) -> None:
    access = AccessControl(lambda: engine, idle_minutes=5)
    view = ModelsView(lambda: engine, access, STATION, lambda: tmp_path / "configured-model")
    qtbot.addWidget(view)
    view.compare.refresh()  # no promotion on record: the line's configured model is production
    assert view.compare.production.text().endswith(f"({tmp_path / 'configured-model'})")
    view.compare.show_report(_write_comparison(tmp_path, "new-1").parent)
    view.compare.reason.setText("better")
    asked = when_modal(qtbot, lambda dialog: dialog.reject())
    assert view.compare.promote() is None
    assert asked == ["LoginDialog"]
    assert "engineer's login" in view.compare.message.text()
    assert deployments.deployment_history(engine, STATION) == []


def test_a_worse_candidate_is_promoted_only_after_a_confirmation(
    qtbot, view: ModelsView, engine, tmp_path: Path
) -> None:
    panel = view.compare
    outcome = panel.show_report(_write_comparison(tmp_path, "new-2", worse=True).parent)
    assert outcome is not None and outcome.verdict == "worse"
    panel.reason.setText("needed for the new product variant")
    declined = when_modal(qtbot, lambda box: box.button(QMessageBox.StandardButton.No).click())
    assert panel.promote() is None and declined == ["QMessageBox"]
    assert panel.message.text() == "not promoted: the comparison says worse"
    assert deployments.deployment_history(engine, STATION) == []
    confirmed = when_modal(qtbot, lambda box: box.button(QMessageBox.StandardButton.Yes).click())
    done = panel.promote()
    assert confirmed == ["QMessageBox"] and done is not None and done.metrics["verdict"] == "worse"


def test_compare_runs_inspector_compare_in_a_child_process_and_shows_its_report(
    qtbot, engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.tiny_models import tiny_pair, write_labelled  # torch: only for this test

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    production, candidate = tiny_pair(tmp_path / "models")
    access = AccessControl(lambda: engine, idle_minutes=5)
    assert access.session().login("eng", "eng-password") is not None
    view = ModelsView(lambda: engine, access, STATION, lambda: production)
    qtbot.addWidget(view)
    panel = view.compare
    panel.candidate.setText(str(candidate))
    panel.data.setText(str(write_labelled(tmp_path / "labelled")))
    with qtbot.waitSignal(panel.process.finished, timeout=240_000) as finished:
        assert panel.compare()
        assert not panel.compare_button.isEnabled()  # the window goes on; one run at a time
    assert finished.args == [0, True], panel.message.text()
    outcome = panel.outcome
    assert outcome is not None and outcome.html.is_file()
    assert outcome.folder.parent == candidate.parent  # compare-line-b-<time> beside it
    assert outcome.new_version.startswith("line-b")
    assert outcome.baseline_version.startswith("line-a")
    assert panel.verdict.text() == outcome.verdict_line()
    assert panel.figures.item(0, 0).text() == "image AUROC"
    assert panel.promote_button.isEnabled() and panel.compare_button.isEnabled()


def test_a_classifier_candidate_is_compared_with_the_line_classifier_and_promoted(
    qtbot, engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.biased_classifier import save_biased_classifier  # torch: only for this test
    from tests.trained_tiny_classifier import write_parts
    from tests.unit.training.synthetic_classes import CLASSES

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    line = save_biased_classifier(tmp_path / "line-cls", CLASSES, "good", 0.9)
    candidate = save_biased_classifier(tmp_path / "new-cls", CLASSES, "spot", 0.9)
    access = AccessControl(lambda: engine, idle_minutes=5)
    assert access.session().login("eng", "eng-password") is not None
    classifier: list[Path | None] = [None]
    view = ModelsView(
        lambda: engine, access, STATION, lambda: tmp_path / "m", lambda: classifier[0]
    )
    qtbot.addWidget(view)
    panel = view.compare
    panel.candidate.setText(str(candidate))
    panel.data.setText(str(write_parts(tmp_path / "parts", per_class=2)))
    assert not panel.compare() and "runs none to compare it with" in panel.message.text()

    classifier[0] = line
    panel.refresh()
    assert panel.classifier.text().startswith(str(line))
    with qtbot.waitSignal(panel.process.finished, timeout=240_000) as finished:
        assert panel.compare()
    assert finished.args == [0, True], panel.message.text()
    outcome = panel.outcome
    assert outcome is not None and outcome.task == "classify"
    assert outcome.baseline_version.startswith("tiny-good")
    assert outcome.verdict == "mixed"  # spot found, but scratches and good parts now misnamed
    assert panel.figures.item(0, 0).text() == "accuracy"
    assert panel.promote_button.isEnabled() and "station's classifier" in panel.message.text()
    panel.reason.setText("names spots")
    confirmed = when_modal(qtbot, lambda box: box.button(QMessageBox.StandardButton.Yes).click())
    done = panel.promote()
    assert confirmed == ["QMessageBox"] and done is not None and done.role == "classifier"
    assert panel.line_classifier() == candidate.resolve()
    assert panel.classifier.text().startswith(str(candidate.resolve()))
