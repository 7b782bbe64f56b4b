"""Login on demand and the idle lock: the one access API the GUI's views call.

The window starts at operator level with nobody logged in. A view about to do
something above operator calls :meth:`AccessControl.require` with the role it
needs; that returns the user at once when the logged-in user may, and asks for
a login otherwise (``None`` when the person cancels). What the user does is
recorded under :meth:`AccessControl.actor_name`. Any mouse or key input keeps
the session alive; after the idle time it locks back to operator level.

The rules live in :class:`~inspector.storage.login_session.LoginSession`
(no Qt); this module adds the dialogs, the input watch and the status bar.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.errors import InspectorError
from inspector.storage.login_session import DEFAULT_IDLE_MINUTES, LoginSession
from inspector.storage.user_admin import list_users
from inspector.storage.users import Role, User
from inspector.ui.login_dialogs import FirstAdminDialog, LoginDialog

_INPUT_EVENTS = {
    QEvent.Type.MouseButtonPress,
    QEvent.Type.KeyPress,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}
CHECK_INTERVAL_MS = 1000


class AccessControl(QObject):
    """The station's login state for the GUI.

    Args:
        engine: Returns the database holding the users (opened on first need,
            so a window whose database cannot be opened still runs the line).
        idle_minutes: Minutes without input before the session locks.
        parent: Owner (the main window).
    """

    changed = Signal()  # someone logged in or out, or the idle lock struck

    def __init__(
        self,
        engine: Callable[[], Engine],
        *,
        idle_minutes: float = DEFAULT_IDLE_MINUTES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if idle_minutes <= 0:
            msg = f"the idle lock needs a positive number of minutes, got {idle_minutes}"
            raise ValueError(msg)
        self._engine = engine
        self._idle_s = idle_minutes * 60
        self._session: LoginSession | None = None
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check_idle)
        self._timer.start(CHECK_INTERVAL_MS)

    def session(self) -> LoginSession:
        """The session, opened on first use.

        Raises:
            InspectorError: the user database cannot be opened.
        """
        if self._session is None:
            self._session = LoginSession(self._engine(), idle_timeout_s=self._idle_s)
        return self._session

    @property
    def idle_minutes(self) -> float:
        """Minutes without input before the session locks."""
        return self._idle_s / 60

    @property
    def user(self) -> User | None:
        """Who is logged in now, or ``None`` (operator level)."""
        return None if self._session is None else self._session.user

    def actor_name(self) -> str | None:
        """The name to record as actor now; ``None`` when nobody is logged in."""
        user = self.user
        return None if user is None else user.name

    def require(self, role: Role, parent: QWidget | None = None, action: str = "") -> User | None:
        """The logged-in user if their role allows ``role``, else ask for a login.

        Returns:
            The user who may act, or ``None`` when the person cancelled (or the
            user database cannot be opened, which is then shown).
        """
        try:
            session = self.session()
            if session.allows(role) and session.user is not None:
                session.touch()
                return session.user
            if not list_users(session.engine) and not self._create_first_admin(parent):
                return None
        except InspectorError as exc:
            QMessageBox.warning(parent, "Log in", f"Logins cannot be checked: {exc}")
            return None
        dialog = LoginDialog(session, role, action, parent)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        self.changed.emit()
        return dialog.user if accepted else None

    def require_name(
        self, role: Role, parent: QWidget | None = None, action: str = ""
    ) -> str | None:
        """:meth:`require`, returning the user's name (the views' ``actor`` callables)."""
        user = self.require(role, parent, action)
        return None if user is None else user.name

    def logout(self) -> None:
        """Back to operator level now."""
        if self._session is not None:
            self._session.logout()
        self.changed.emit()

    def check_idle(self) -> bool:
        """Lock if the idle time ran out (the timer calls this every second)."""
        if self._session is not None and self._session.expire_if_idle():
            self.changed.emit()
            return True
        return False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Any key or click keeps a logged-in session alive; never consumes the event."""
        if self._session is not None and event.type() in _INPUT_EVENTS:
            self._session.touch()
        return False

    def _create_first_admin(self, parent: QWidget | None) -> bool:
        dialog = FirstAdminDialog(self.session().engine, parent)
        return dialog.exec() == QDialog.DialogCode.Accepted


class AccessBar(QWidget):
    """Status bar item: "Logged in as X (engineer)" with Log out, or "Operator" with Log in."""

    def __init__(self, access: AccessControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.access = access
        self.label = QLabel()
        self.label.setObjectName("accessLabel")
        self.button = QPushButton()
        self.button.setObjectName("accessButton")
        self.button.setFlat(True)
        self.button.clicked.connect(self._clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.button)
        access.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Show who is logged in now."""
        user = self.access.user
        if user is None:
            self.label.setText("Operator (nobody logged in)")
            self.button.setText("Log in…")
        else:
            self.label.setText(f"Logged in as {user.name} ({user.role.value}) —")
            self.button.setText("Log out")

    def _clicked(self) -> None:
        if self.access.user is None:
            self.access.require(Role.OPERATOR, self.window())
        else:
            self.access.logout()
