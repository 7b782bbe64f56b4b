"""The administrator's user table: add users and change roles, each change audited.

Opened only through ``AccessControl.require(Role.ADMIN)``; the admin's name is
the actor of every change. Users are never deleted (audit entries keep naming
them), so there is no delete button.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.errors import StorageError
from inspector.storage.user_admin import list_users
from inspector.storage.users import Role, add_user, set_role
from inspector.ui.history_model import TABLE_STYLE


class UsersDialog(QDialog):
    """List, add, change role.

    Args:
        engine: The user database.
        actor: The logged-in administrator's name (recorded in the audit log).
    """

    def __init__(self, engine: Engine, actor: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.actor = actor
        self.setWindowTitle(f"Users — changes are audited as {actor}")
        self.resize(560, 520)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Name", "Role", "Active"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setStyleSheet(TABLE_STYLE)

        self.new_name = QLineEdit()
        self.new_role = _roles()
        self.new_password = QLineEdit()
        self.new_again = QLineEdit()
        for field in (self.new_password, self.new_again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        add_button = QPushButton("Add user")
        add_button.clicked.connect(self.add)
        add_box = QGroupBox("Add a user")
        add_form = QFormLayout(add_box)
        add_form.addRow("Name", self.new_name)
        add_form.addRow("Role", self.new_role)
        add_form.addRow("Password", self.new_password)
        add_form.addRow("Password again", self.new_again)
        add_form.addRow(add_button)

        self.role = _roles()
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("why (stored in the audit log)")
        role_button = QPushButton("Set role of the selected user")
        role_button.clicked.connect(self.change_role)
        role_box = QGroupBox("Change a role")
        role_row = QHBoxLayout(role_box)
        for widget in (self.role, self.reason, role_button):
            role_row.addWidget(widget)

        self.message = QLabel()
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(role_box)
        layout.addWidget(add_box)
        layout.addWidget(self.message)
        self.reload()

    def reload(self) -> None:
        """Show the users as stored."""
        users = list_users(self.engine)
        self.table.setRowCount(len(users))
        for row, user in enumerate(users):
            cells = (user.name, user.role.value, "yes" if user.active else "no")
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def add(self) -> bool:
        """Add the user in the form; say why not otherwise."""
        if self.new_password.text() != self.new_again.text():
            return self._say("The two passwords differ: type them again.", error=True)
        role = Role(self.new_role.currentText())
        try:
            user = add_user(
                self.engine,
                self.new_name.text().strip(),
                role,
                self.new_password.text(),
                actor=self.actor,
            )
        except (ValueError, StorageError) as exc:
            return self._say(f"Cannot add the user: {exc}.", error=True)
        for field in (self.new_name, self.new_password, self.new_again):
            field.clear()
        self.reload()
        return self._say(f"{user.name} added as {user.role.value}.", error=False)

    def change_role(self) -> bool:
        """Give the selected user the chosen role, with the reason; say why not otherwise."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return self._say("Select a user in the table first.", error=True)
        if not self.reason.text().strip():
            return self._say("Say why the role changes: it goes to the audit log.", error=True)
        name = self.table.item(rows[0].row(), 0).text()
        if name == self.actor and self.role.currentText() != Role.ADMIN.value:
            return self._say(
                "You cannot take away your own admin role: ask another admin.", error=True
            )
        try:
            user = set_role(
                self.engine,
                name,
                Role(self.role.currentText()),
                actor=self.actor,
                reason=self.reason.text().strip(),
            )
        except StorageError as exc:
            return self._say(f"Cannot change the role: {exc}.", error=True)
        self.reason.clear()
        self.reload()
        return self._say(f"{user.name} is now {user.role.value}.", error=False)

    def _say(self, text: str, *, error: bool) -> bool:
        self.message.setStyleSheet("color: #e5535e;" if error else "color: #2fa862;")
        self.message.setText(text)
        return not error


def _roles() -> QComboBox:
    combo = QComboBox()
    combo.addItems([role.value for role in Role])
    return combo
