"""'This is OK — teach the model' in the window: a false reject becomes good memory in one click.

Real everything: a copy of the shipped demo-line model, a SQLite file with
stored parts and their JPEGs, the real backbone on the CPU (a few seconds).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from inspector.acquisition.demo_line import DemoLine
from inspector.core import Verdict
from inspector.core.frame import Frame
from inspector.core.inspection import Inspection
from inspector.ml.package import load_package
from inspector.pipeline.line import DEFAULT_MODEL_DIR, LineSettings
from inspector.pipeline.station import LineState
from inspector.storage.audit import audit_entries, verify_audit
from inspector.storage.deployments import current_production
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections, get_inspection
from inspector.storage.reviews import latest_reviews, review_history
from inspector.storage.users import Role, add_user
from inspector.ui.good_teacher import GoodPartTeacher, learned_package_dir
from inspector.ui.main_window import MainWindow
from inspector.ui.review_view import ReviewView
from inspector.ui.teach_good import TeachGoodPanel, why_not_teachable
from tests.records import new_record
from tests.ui.test_access import when_modal

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
LEARN_TIMEOUT_MS = 90_000  # loads the backbone and runs it on a shared 2-core CPU


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A copy of the demo-line model, so its learned sibling lands in tmp_path."""
    folder = tmp_path / "models" / "demo-line"
    shutil.copytree(DEFAULT_MODEL_DIR, folder)
    return folder


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Newest first: a rejected cosmetic spot (kept image), a reject without image, a good part."""
    path = tmp_path / "data" / "inspections.db"
    engine = open_database(path)
    store = ImageStore.beside(path)
    with DemoLine(rate_hz=0, defect_rate=1.0, kinds=("spot",), seed=5, max_parts=1) as line:
        [spot] = [frame.image for frame in line]
    good = np.full((64, 64, 3), 128, np.uint8)
    records = [
        new_record(
            captured_at=T0, part_id=1, verdict=Verdict.ACCEPT, image_path=_keep(store, good)
        ),
        new_record(captured_at=T0 + timedelta(minutes=1), part_id=2, verdict=Verdict.REJECT),
        new_record(
            captured_at=T0 + timedelta(minutes=2),
            part_id=3,
            verdict=Verdict.REJECT,
            score=40.0,
            image_path=_keep(store, spot, part_id=3),
        ),
    ]
    add_inspections(engine, records)
    engine.dispose()
    return path


def _keep(store: ImageStore, image: np.ndarray, part_id: int = 1) -> str:
    return store.save(image, captured_at=T0, station="line-1", part_id=part_id, verdict="reject")


@pytest.fixture
def window(qtbot, tmp_path: Path, model: Path, db: Path):
    """The main window on that database and model, the line not started."""
    win = MainWindow(
        LineSettings(database=db, model_dir=model, device="cpu", station_name="line-1")
    )
    win.reviewer_settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.teacher.wait(60)
    win.close()


def _review(qtbot, window: MainWindow) -> ReviewView:
    window.tabs.setCurrentIndex(2)  # Live, History, Review
    view = window.qa_tabs.view("Review")
    assert isinstance(view, ReviewView)
    qtbot.waitUntil(view.isVisible)  # Qt shows a widget added to a shown layout on its next loop
    return view


def _log_in_engineer(window: MainWindow, name: str) -> None:
    """Teaching from the Live tab needs an engineer's login (the window asks otherwise)."""
    engine = window.qa_tabs.storage()[0]
    add_user(engine, name, Role.ENGINEER, "engineer-password", actor="admin")
    assert window.access.session().login(name, "engineer-password") is not None


def _sign_in(window: MainWindow, name: str = "qa.kim") -> None:
    """Reviewing and teaching in the window need a QA login (the window asks otherwise)."""
    engine = window.qa_tabs.storage()[0]
    add_user(engine, name, Role.QA, "qa-password", actor="admin")
    assert window.access.session().login(name, "qa-password") is not None


def test_key_o_teaches_the_model_a_false_reject_and_the_line_switches(qtbot, window, model):
    view = _review(qtbot, window)
    part = view.current
    assert part.part_id == 3 and view.teach_panel.button.isEnabled()
    _sign_in(window)
    bank_before = load_package(model).memory_bank.shape[0]

    with qtbot.waitSignal(window.teacher.finished, timeout=LEARN_TIMEOUT_MS) as done:
        qtbot.keyClick(view, Qt.Key.Key_O)
        assert view.teach_panel.busy_bar.isVisible()
        assert not view.teach_panel.button.isEnabled()  # one lesson at a time
    outcome = done.args[0]
    assert outcome.error is None, outcome.error
    [learned] = [p for p in model.parent.iterdir() if p != model]
    assert learned.name.startswith("demo-line-learned-")
    package = load_package(learned)
    assert package.memory_bank.shape[0] > bank_before
    assert package.version == outcome.taught.result.new_version != load_package(model).version
    assert package.training["learned_good_inspections"] == [part.id]

    review = latest_reviews(view.engine, [part.id])[part.id]
    assert (review.decision.value, review.reviewer) == ("false_reject", "qa.kim")
    assert get_inspection(view.engine, part.id).verdict is Verdict.REJECT  # machine's verdict kept
    learned_entry, promoted_entry = audit_entries(view.engine)[-2:]
    assert (learned_entry.action, learned_entry.actor, learned_entry.new_value) == (
        "model.learn_good",
        "qa.kim",
        package.version,
    )
    assert (promoted_entry.action, promoted_entry.actor) == ("model.promote", "qa.kim")
    assert verify_audit(view.engine).ok
    # Recorded as the station's production model: kept after a restart, one rollback undoes it.
    deployed = current_production(view.engine, part.station)
    assert (deployed.model_version, deployed.actor) == (package.version, "qa.kim")
    assert Path(deployed.model_path) == learned

    assert window.runner.settings.model_dir == learned
    assert window.runner.model_version == package.version  # preloaded on the worker
    window._refresh()
    assert package.version in window.status.model.text()
    text = view.teach_panel.result.text()
    assert f"learned part 3: new version {package.version}" in text
    assert "128 patches added" in text
    assert view.queue.decided[part.id] is not None and view.current is not part  # moved on
    event = window.alarms.item(0).text()
    assert "learned part 3" in event and "qa.kim" in event and "next start uses it" in event


def test_a_deleted_model_folder_is_a_message_and_nothing_is_written(qtbot, window, model):
    view = _review(qtbot, window)
    _sign_in(window)
    part = view.current
    shutil.rmtree(model)

    with qtbot.waitSignal(window.teacher.finished, timeout=LEARN_TIMEOUT_MS) as done:
        view.teach_panel.button.click()
    assert "does not exist" in done.args[0].error
    assert "does not exist" in view.teach_panel.result.text()
    assert list(model.parent.iterdir()) == []
    assert review_history(view.engine, part.id) == []
    assert [e for e in audit_entries(view.engine) if e.action.startswith("model.")] == []
    assert window.runner.settings.model_dir == model
    assert view.current is part and view.teach_panel.button.isEnabled()


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 2 MiB filesystem (tmpfs), so that 'disk full' is the kernel's ENOSPC."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_locked_database_is_a_message_and_the_part_can_be_taught_again(qtbot, window, tmp_path):
    model = tmp_path / "own" / "demo-line"
    shutil.copytree(DEFAULT_MODEL_DIR, model)
    window.runner.change_model(model)
    view = _review(qtbot, window)
    _sign_in(window)
    part = view.current
    holder = sqlite3.connect(view.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program writing, past the busy timeout
    try:
        with qtbot.waitSignal(window.teacher.finished, timeout=LEARN_TIMEOUT_MS) as done:
            qtbot.keyClick(view, Qt.Key.Key_O)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "database stayed busy" in done.args[0].error
    assert "the part was not taught" in view.teach_panel.result.text()
    assert [p.name for p in model.parent.iterdir()] == ["demo-line"]  # no half-written model
    assert review_history(view.engine, part.id) == []

    with qtbot.waitSignal(window.teacher.finished, timeout=LEARN_TIMEOUT_MS) as done:
        qtbot.keyClick(view, Qt.Key.Key_O)
    assert done.args[0].taught is not None, done.args[0].error
    assert review_history(view.engine, part.id)[-1].decision.value == "false_reject"


def test_a_full_disk_is_a_message_and_leaves_no_half_written_model(qtbot, window, small_disk):
    model = small_disk / "demo-line"
    shutil.copytree(DEFAULT_MODEL_DIR, model)  # 1.2 MB: the learned bank does not fit beside it
    window.runner.change_model(model)
    view = _review(qtbot, window)
    _sign_in(window)
    part = view.current

    with qtbot.waitSignal(window.teacher.finished, timeout=LEARN_TIMEOUT_MS) as done:
        qtbot.keyClick(view, Qt.Key.Key_O)
    assert "no space left" in done.args[0].error
    assert "no space left" in view.teach_panel.result.text()
    assert [p.name for p in small_disk.iterdir()] == ["demo-line"]
    assert review_history(view.engine, part.id) == []
    assert [e for e in audit_entries(view.engine) if e.action.startswith("model.")] == []
    assert window.runner.settings.model_dir == model


def test_the_button_is_only_for_rejects_with_a_kept_image_and_a_known_model(qtbot, window, db):
    view = _review(qtbot, window)
    no_image = view.items[1]
    assert (no_image.part_id, no_image.image_path) == (2, None)
    view.next()
    assert view.current is no_image and not view.teach_panel.button.isEnabled()
    assert "not kept" in view.teach_panel.button.toolTip()
    _sign_in(window)
    qtbot.keyClick(view, Qt.Key.Key_O)
    assert "not kept" in view.teach_panel.result.text()
    assert not window.teacher.busy

    accepted = get_inspection(view.engine, 1)
    view.teach_panel.show_stored(accepted)
    assert not view.teach_panel.button.isEnabled()
    assert "only rejected or REVIEW" in view.teach_panel.button.toolTip()

    nowhere = GoodPartTeacher(lambda: None)
    panel = TeachGoodPanel(nowhere, view.engine, view.image_store, actor=lambda: "qa.kim")
    qtbot.addWidget(panel)
    panel.show_stored(view.items[0])
    assert not panel.button.isEnabled() and "no model folder" in panel.button.toolTip()
    assert why_not_teachable(Verdict.REVIEW, True, Path("m")) is None


def test_the_reviewer_is_asked_for_before_anything_is_learned(qtbot, window):
    view = _review(qtbot, window)
    engine = window.qa_tabs.storage()[0]
    add_user(engine, "qa.kim", Role.QA, "qa-password", actor="admin")
    assert not view.reviewer.isVisible()  # the window's login replaces the typed name
    seen = when_modal(qtbot, lambda dialog: dialog.reject())  # the person cancels the login
    qtbot.keyClick(view, Qt.Key.Key_O)
    assert seen == ["LoginDialog"]
    assert not window.teacher.busy and window.access.user is None


def test_learned_packages_are_siblings_with_one_suffix(tmp_path):
    base = tmp_path / "demo-line"
    first = learned_package_dir(base, datetime(2026, 5, 4, 6, 0, 1))
    assert first == tmp_path / "demo-line-learned-20260504-060001"
    first.mkdir()
    assert learned_package_dir(base, datetime(2026, 5, 4, 6, 0, 1)).name.endswith("-060001-2")
    again = learned_package_dir(first, datetime(2026, 5, 5, 7, 0, 0))
    assert again == tmp_path / "demo-line-learned-20260505-070000"


def test_a_live_part_without_a_record_is_explained(qtbot, window):
    frame = Frame(np.zeros((32, 32, 3), np.uint8), "cam0", 99, 0.0, T0 + timedelta(hours=1))
    live = Inspection(frame, Verdict.REJECT, 9.0, 1.0, (), None, "m", "r", 1.0, 1.0)
    _log_in_engineer(window, "op.lee")
    dialog = window.open_inspection(live)
    panel = dialog.actions
    assert isinstance(panel, TeachGoodPanel) and panel.button.isEnabled()
    panel.record_wait_s = 0.0  # the record will never come: do not wait for it

    with qtbot.waitSignal(window.teacher.finished, timeout=LEARN_TIMEOUT_MS):
        panel.button.click()
    assert "part 99 of station line-1 is not in the database" in panel.result.text()
    accepted = replace(live, verdict=Verdict.ACCEPT)
    assert not window.open_inspection(accepted).actions.button.isEnabled()


@pytest.mark.slow
def test_a_live_reject_is_taught_and_the_running_line_restarts_on_the_new_model(
    qtbot, window, model
):
    _log_in_engineer(window, "op.lee")
    window.runner.change_source("demo", rate_hz=4.0)
    window.runner.settings = replace(window.runner.settings, defect_rate=1.0, seed=2)
    assert window.start_line()
    qtbot.waitUntil(lambda: window.rejects.count() > 0, timeout=60_000)
    window._refresh()
    reject = window.rejects.item(0).data(Qt.ItemDataRole.UserRole)
    old_version = window.runner.model_version
    dialog = window.open_inspection(reject)

    with qtbot.waitSignal(window.teacher.finished, timeout=LEARN_TIMEOUT_MS) as done:
        dialog.actions.button.click()
    taught = done.args[0].taught
    assert taught is not None, done.args[0].error
    assert taught.part_id == reject.frame.part_id
    assert taught.review.reviewer == "op.lee"
    assert window.runner.settings.model_dir == taught.result.package_dir
    assert window.runner.state in (LineState.STARTING, LineState.RUNNING)
    qtbot.waitUntil(
        lambda: (
            window.latest is not None and window.latest.model_version == taught.result.new_version
        ),
        timeout=60_000,
    )
    assert taught.result.new_version != old_version
    assert "the line runs on it now" in window.alarms.item(0).text()
    window.stop_line()


@pytest.mark.slow
def test_a_paused_line_is_stopped_so_that_start_runs_the_new_model(qtbot, window):
    window.runner.change_source("demo", rate_hz=4.0)
    assert window.start_line()
    qtbot.waitUntil(lambda: window.runner.state is LineState.RUNNING, timeout=30_000)
    window.runner.pause()
    view = _review(qtbot, window)
    _sign_in(window)
    while view.current is not None and view.current.part_id != 3:  # the stored spot
        view.next()

    with qtbot.waitSignal(window.teacher.finished, timeout=LEARN_TIMEOUT_MS) as done:
        qtbot.keyClick(view, Qt.Key.Key_O)
    taught = done.args[0].taught
    assert taught is not None, done.args[0].error
    assert window.runner.state is LineState.FINISHED
    assert "paused line was stopped" in window.alarms.item(0).text()
    assert window.runner.model_version == taught.result.new_version  # preloaded, ready
    assert window.start_line()
    qtbot.waitUntil(
        lambda: (
            window.latest is not None and window.latest.model_version == taught.result.new_version
        ),
        timeout=60_000,
    )
    window.stop_line()
