"""The login dialog and the first-start "create the administrator" dialog.

Both keep their errors inside the dialog (a red line under the fields), so a
mistyped password costs one retype, not a new dialog; a wrong login never says
whether the name or the password was wrong.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.errors import StorageError
from inspector.storage.login_session import LoginSession, RoleTooLow
from inspector.storage.users import MIN_PASSWORD_LENGTH, Role, User, add_user

WRONG_LOGIN = "Wrong user name or password."


class LoginDialog(QDialog):
    """Asks for a user name and password allowed to do something that needs ``needs``.

    Args:
        session: The station's session; a successful login changes its user.
        needs: The role the action needs (operator: any user may log in).
        action: What the user is about to do, shown in the heading.
    """

    def __init__(
        self,
        session: LoginSession,
        needs: Role,
        action: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.needs = needs
        self.user: User | None = None
        self.setWindowTitle("Log in")
        current = session.user
        lines = []
        if needs is not Role.OPERATOR:
            lines.append(f"{action or 'This'} needs the {needs.value} role or higher.")
        if current is not None:
            lines.append(f"Logged in as {current.name} ({current.role.value}).")
        self.heading = QLabel(" ".join(lines) or "Log in to act as yourself.")
        self.heading.setWordWrap(True)
        self.name = QLineEdit()
        self.name.setObjectName("loginName")
        self.password = QLineEdit()
        self.password.setObjectName("loginPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = _error_label()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Log in")
        buttons.accepted.connect(self.try_login)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("User name", self.name)
        form.addRow("Password", self.password)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def try_login(self) -> bool:
        """Check the fields; accept the dialog on success, else say why and stay open."""
        try:
            user = self.session.login(self.name.text(), self.password.text(), needs=self.needs)
        except RoleTooLow as exc:
            self.error.setText(f"{exc}.")
            return False
        if user is None:
            self.error.setText(WRONG_LOGIN)
            self.password.clear()
            self.password.setFocus()
            return False
        self.user = user
        self.accept()
        return True


class FirstAdminDialog(QDialog):
    """Creates the first administrator of a database that has no users yet."""

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.user: User | None = None
        self.setWindowTitle("Create the administrator")
        heading = QLabel(
            "This database has no users yet. Create the administrator: they add the other "
            "users (QA, engineers) and give them their roles. Operators need no login."
        )
        heading.setWordWrap(True)
        self.name = QLineEdit()
        self.name.setObjectName("adminName")
        self.password = QLineEdit()
        self.again = QLineEdit()
        for field in (self.password, self.again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = _error_label()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.try_create)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("User name", self.name)
        form.addRow(f"Password (≥ {MIN_PASSWORD_LENGTH} characters)", self.password)
        form.addRow("Password again", self.again)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def try_create(self) -> bool:
        """Create the admin (audited as their own act); say why not and stay open otherwise."""
        name, password = self.name.text().strip(), self.password.text()
        if password != self.again.text():
            self.error.setText("The two passwords differ: type them again.")
            return False
        try:
            self.user = add_user(self.engine, name, Role.ADMIN, password, actor=name)
        except (ValueError, StorageError) as exc:
            self.error.setText(f"Cannot create the user: {exc}.")
            return False
        self.accept()
        return True


def _error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("loginError")
    label.setWordWrap(True)
    label.setStyleSheet("color: #e5535e;")
    return label
