"""Login on demand, the idle lock, the first administrator, users and the audit tab (pytest-qt)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog
from sqlalchemy import text

from inspector.core import Verdict
from inspector.pipeline.line import LineSettings
from inspector.storage.audit import audit_entries
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections, get_inspection
from inspector.storage.retention import RetentionPolicy, prune_images
from inspector.storage.users import Role, add_user
from inspector.ui.access import AccessBar, AccessControl
from inspector.ui.audit_view import AuditView
from inspector.ui.good_teacher import GoodPartTeacher
from inspector.ui.login_dialogs import WRONG_LOGIN, FirstAdminDialog, LoginDialog
from inspector.ui.main_window import MainWindow
from inspector.ui.stored_inspection_dialog import StoredInspectionDialog
from inspector.ui.teach_good import TeachGoodPanel
from inspector.ui.users_dialog import UsersDialog
from tests.records import new_record


@pytest.fixture
def engine(tmp_path: Path):
    engine = open_database(tmp_path / "data" / "records.db")
    yield engine
    engine.dispose()


@pytest.fixture
def users(engine):
    add_user(engine, "zoe", Role.ADMIN, "admin-password", actor="zoe")
    add_user(engine, "kim", Role.QA, "qa-password", actor="zoe")
    add_user(engine, "eng", Role.ENGINEER, "eng-password", actor="zoe")
    return engine


@pytest.fixture
def access(qtbot, users):
    return AccessControl(lambda: users, idle_minutes=5)


def when_modal(qtbot, act: Callable[[QDialog], None]) -> list[str]:
    """Run ``act`` on the next modal dialog as soon as it is open; returns its class names."""
    seen: list[str] = []

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, poll)
            return
        seen.append(type(dialog).__name__)
        act(dialog)

    QTimer.singleShot(0, poll)
    return seen


def log_in_as(name: str, password: str) -> Callable[[QDialog], None]:
    def act(dialog: QDialog) -> None:
        assert isinstance(dialog, LoginDialog)
        dialog.name.setText(name)
        dialog.password.setText(password)
        if not dialog.try_login():
            dialog.reject()

    return act


def test_an_action_above_operator_asks_once_and_records_the_user(qtbot, access):
    assert access.user is None and access.actor_name() is None
    seen = when_modal(qtbot, log_in_as("eng", "eng-password"))
    user = access.require(Role.ENGINEER, None, "Teaching the model")
    assert seen == ["LoginDialog"] and user is not None and user.name == "eng"
    # Logged in: the next action of that level goes through without a dialog.
    assert access.require(Role.QA).name == "eng"
    assert access.actor_name() == "eng"
    access.logout()
    assert access.user is None


def test_wrong_password_is_told_without_saying_which_field(qtbot, access):
    dialog = LoginDialog(access.session(), Role.QA, "Reviewing")
    qtbot.addWidget(dialog)
    assert "Reviewing needs the qa role or higher" in dialog.heading.text()
    dialog.name.setText("kim")
    dialog.password.setText("not-her-password")
    assert not dialog.try_login()
    assert dialog.error.text() == WRONG_LOGIN and dialog.password.text() == ""
    dialog.name.setText("nobody")
    dialog.password.setText("qa-password")
    assert not dialog.try_login() and dialog.error.text() == WRONG_LOGIN
    dialog.name.setText("kim")
    dialog.password.setText("qa-password")
    assert dialog.try_login() and dialog.user.name == "kim"


def test_a_role_too_low_is_told_which_role_is_needed(qtbot, access):
    messages: list[str] = []

    def too_low_then_cancel(dialog: QDialog) -> None:
        dialog.name.setText("kim")
        dialog.password.setText("qa-password")
        dialog.try_login()
        messages.append(dialog.error.text())
        dialog.reject()

    when_modal(qtbot, too_low_then_cancel)
    assert access.require(Role.ENGINEER) is None
    assert messages == ["kim is qa; this needs engineer or higher: log in as someone who has it."]
    assert access.user is None


def test_idle_time_locks_back_to_operator_and_the_status_bar_says_so(qtbot, users):
    access = AccessControl(lambda: users, idle_minutes=0.6 / 60)  # 0.6 s
    bar = AccessBar(access)
    qtbot.addWidget(bar)
    assert bar.label.text() == "Operator (nobody logged in)" and bar.button.text() == "Log in…"
    access.session().login("eng", "eng-password")
    access.changed.emit()
    assert bar.label.text() == "Logged in as eng (engineer) —" and bar.button.text() == "Log out"
    qtbot.wait(400)
    qtbot.keyClick(bar, Qt.Key.Key_Shift)  # input keeps the session open
    qtbot.wait(400)
    assert access.user is not None
    with qtbot.waitSignal(access.changed, timeout=3000):
        pass
    assert access.user is None and bar.label.text() == "Operator (nobody logged in)"


def test_first_start_creates_the_administrator_then_logs_in(qtbot, engine):
    access = AccessControl(lambda: engine)

    def create(dialog: QDialog) -> None:
        assert isinstance(dialog, FirstAdminDialog)
        dialog.name.setText("zoe")
        dialog.password.setText("admin-password")
        dialog.again.setText("admin-passw0rd")
        assert not dialog.try_create() and "differ" in dialog.error.text()
        dialog.again.setText("admin-password")
        assert dialog.try_create()
        when_modal(qtbot, log_in_as("zoe", "admin-password"))

    seen = when_modal(qtbot, create)
    user = access.require(Role.ADMIN, None, "Managing users")
    assert seen == ["FirstAdminDialog"] and user is not None and user.role is Role.ADMIN
    [entry] = audit_entries(engine)
    assert (entry.actor, entry.action, entry.subject, entry.new_value) == (
        "zoe",
        "user.add",
        "zoe",
        "admin",
    )


def test_users_dialog_adds_and_changes_roles_audited_as_the_admin(qtbot, users):
    dialog = UsersDialog(users, "zoe")
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 3
    dialog.new_name.setText("lee")
    dialog.new_role.setCurrentText("operator")
    dialog.new_password.setText("short")
    dialog.new_again.setText("short")
    assert not dialog.add() and "at least 8" in dialog.message.text()
    dialog.new_password.setText("lee-password")
    dialog.new_again.setText("lee-password")
    assert dialog.add() and dialog.table.rowCount() == 4
    dialog.table.selectRow(1)  # sorted by name: eng, kim, lee, zoe
    dialog.role.setCurrentText("engineer")
    assert not dialog.change_role() and "Say why" in dialog.message.text()
    dialog.reason.setText("now runs line 2")
    assert dialog.change_role() and dialog.table.item(1, 1).text() == "engineer"
    dialog.table.selectRow(3)
    dialog.role.setCurrentText("qa")
    dialog.reason.setText("oops")
    assert not dialog.change_role() and "your own admin role" in dialog.message.text()
    last = audit_entries(users)[-1]
    assert (last.actor, last.subject, last.old_value, last.new_value, last.reason) == (
        "zoe",
        "kim",
        "qa",
        "engineer",
        "now runs line 2",
    )


def test_audit_tab_lists_filters_verifies_and_exports(qtbot, users, tmp_path):
    access = AccessControl(lambda: users)
    view = AuditView(lambda: users, access)
    qtbot.addWidget(view)
    # An operator opening the tab is asked for a QA login first.
    seen = when_modal(qtbot, log_in_as("kim", "qa-password"))
    assert view.reload() and seen == ["LoginDialog"]
    assert view.table.rowCount() == 3
    assert view.table.item(0, 2).text() == "user.add" and view.table.item(0, 4).text() == "engineer"
    view.actor.setCurrentText("zoe")
    view.reload()
    assert view.table.rowCount() == 3
    view.use_time.setChecked(True)
    view.start.setDateTime(view.start.dateTime().addDays(30))
    view.end.setDateTime(view.start.dateTime().addDays(1))
    view.reload()
    assert view.table.rowCount() == 0
    view.use_time.setChecked(False)
    view.reload()
    assert view.verify() and "3 entries verified" in view.message.text()
    out = tmp_path / "audit.csv"
    assert view.export_csv(out) == 3
    with open(out, encoding="utf-8-sig", newline="") as stream:
        assert len(list(csv.reader(stream))) == 4
    with users.begin() as connection:
        connection.execute(text("UPDATE audit_log SET new_value = 'admin' WHERE id = 2"))
    assert not view.verify()
    assert "entry 2 does not match" in view.message.text()
    assert view.table.selectionModel().selectedRows()[0].row() == 1


def test_a_stored_part_whose_image_retention_removed_says_so(qtbot, engine, tmp_path):
    store = ImageStore(tmp_path / "images")
    old = datetime.now(UTC) - timedelta(days=400)
    pixels = np.full((24, 32, 3), 90, np.uint8)
    path = store.save(pixels, captured_at=old, station="s", part_id=1, verdict=Verdict.REJECT)
    [part] = add_inspections(
        engine, [new_record(captured_at=old, verdict=Verdict.REJECT, image_path=path)]
    )
    assert prune_images(engine, store, RetentionPolicy(30, 365)).removed == 1
    dialog = StoredInspectionDialog(get_inspection(engine, part), engine, store)
    qtbot.addWidget(dialog)
    assert dialog.image is None
    assert dialog.removal is not None
    assert "image removed by retention (reject or reviewed part older than 365 days) on" in (
        dialog.removal.describe()
    )
    panel = TeachGoodPanel(GoodPartTeacher(lambda: tmp_path), engine, store, actor=lambda: "eng")
    qtbot.addWidget(panel)
    panel.show_stored(get_inspection(engine, part))
    assert not panel.button.isEnabled()
    assert "this part's image removed by retention" in panel.button.toolTip()


def test_main_window_starts_at_operator_level_with_users_and_audit(qtbot, tmp_path):
    database = tmp_path / "ui.db"
    engine = open_database(database)
    add_user(engine, "zoe", Role.ADMIN, "admin-password", actor="zoe")
    engine.dispose()
    window = MainWindow(LineSettings(database=database, idle_lock_minutes=3))
    qtbot.addWidget(window)
    try:
        assert window.access_bar.label.text() == "Operator (nobody logged in)"
        assert [window.tabs.tabText(i) for i in range(window.tabs.count())][-1] == "Audit"
        assert window.access.idle_minutes == 3
        seen = when_modal(qtbot, log_in_as("zoe", "admin-password"))
        dialog = window.manage_users()
        assert seen == ["LoginDialog"] and isinstance(dialog, UsersDialog)
        assert dialog.actor == "zoe" and dialog.table.rowCount() == 1
        assert window.access_bar.label.text() == "Logged in as zoe (admin) —"
        dialog.close()
        window.access_bar.button.click()  # Log out
        assert window.access.user is None
    finally:
        window.close()


def test_showing_the_audit_tab_asks_for_nothing_until_show_is_pressed(qtbot, users):
    access = AccessControl(lambda: users)
    view = AuditView(lambda: users, access)
    qtbot.addWidget(view)
    view.show()  # switching to the tab must not block on a modal login dialog
    qtbot.waitExposed(view)
    assert view.table.rowCount() == 0
    seen = when_modal(qtbot, log_in_as("kim", "qa-password"))
    view.show_button.click()
    assert seen == ["LoginDialog"] and view.table.rowCount() == 3
