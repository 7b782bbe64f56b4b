"""The Audit tab: who changed what, when, from what to what and why; verify; export.

A thin view over ``storage.audit_query`` (the filtered list), ``storage.audit``
(the hash-chain check) and ``reports.audit_csv``. Reading the log needs the QA
role, like the other quality records; the tab asks for a login when opened by
an operator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from pathlib import Path

from PySide6.QtCore import QDateTime
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.errors import InspectorError
from inspector.reports.audit_csv import write_audit_csv
from inspector.storage.audit import AuditEntry, verify_audit
from inspector.storage.audit_query import AuditFilter, audit_choices, find_audit_entries
from inspector.storage.users import Role
from inspector.ui.access import AccessControl
from inspector.ui.history_model import TABLE_STYLE

ALL = "(all)"
HEADER = ("Time", "Who", "What", "Subject", "Old → new", "Reason")


class AuditView(QWidget):
    """Filterable audit log with a chain check and CSV export.

    Args:
        engine: Returns the database (opened when the tab is first shown).
        access: The window's access control; ``None`` shows the log to anyone.
    """

    def __init__(
        self,
        engine: Callable[[], Engine],
        access: AccessControl | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._engine = engine
        self._access = access
        self.entries: list[AuditEntry] = []
        self.action = QComboBox()
        self.actor = QComboBox()
        self.use_time = QCheckBox("From")
        now = QDateTime.currentDateTime()
        self.start = _datetime_edit(now.addDays(-7))
        self.end = _datetime_edit(now.addDays(1))
        self.show_button = QPushButton("Show")
        self.verify_button = QPushButton("Verify chain")
        self.export_button = QPushButton("Export CSV…")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADER))
        self.table.setHorizontalHeaderLabels(HEADER)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setStyleSheet(TABLE_STYLE)

        filters = QHBoxLayout()
        for label, widget in (("Kind", self.action), ("User", self.actor)):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget)
        filters.addWidget(self.use_time)
        filters.addWidget(self.start)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.end)
        filters.addStretch(1)
        for button in (self.show_button, self.verify_button, self.export_button):
            filters.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        self.show_button.clicked.connect(self.reload)
        self.verify_button.clicked.connect(self.verify)
        self.export_button.clicked.connect(self._ask_export)
        self._loaded = False

    def current_filter(self) -> AuditFilter:
        """The filter the controls describe."""
        start = end = None
        if self.use_time.isChecked():
            start = self.start.dateTime().toPython().astimezone(UTC)
            end = self.end.dateTime().toPython().astimezone(UTC)
        return AuditFilter(
            action=_choice(self.action), actor=_choice(self.actor), start=start, end=end
        )

    def reload(self) -> bool:
        """Read the entries matching the filter; False (with the reason shown) if it cannot."""
        if not self._may_read():
            return False
        try:
            engine = self._engine()
            self._fill_choices(engine)
            self.entries = find_audit_entries(engine, self.current_filter())
        except (InspectorError, ValueError) as exc:
            self._say(f"Cannot show the audit log: {exc}", error=True)
            return False
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            for column, text in enumerate(_cells(entry)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._say(f"{len(self.entries)} entries, newest first.", error=False)
        return True

    def verify(self) -> bool:
        """Recompute the whole hash chain; shows ok or the first entry that does not match."""
        if not self._may_read():
            return False
        try:
            check = verify_audit(self._engine())
        except InspectorError as exc:
            self._say(f"Cannot verify the audit log: {exc}", error=True)
            return False
        if check.ok:
            self._say(f"Audit chain intact: {check.entries} entries verified.", error=False)
            return True
        self._say(
            f"Audit log TAMPERED: entry {check.first_bad_id} does not match its hash chain "
            "(it, or an entry before it, was changed or deleted).",
            error=True,
        )
        for row, entry in enumerate(self.entries):
            if entry.id == check.first_bad_id:
                self.table.selectRow(row)
        return False

    def export_csv(self, path: Path) -> int:
        """Write the entries shown to ``path``; returns how many."""
        written = write_audit_csv(self.entries, path)
        self._say(f"{written} entries exported to {path}.", error=False)
        return written

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._loaded:
            return
        user = None if self._access is None else self._access.user
        if self._access is not None and (user is None or not user.role.allows(Role.QA)):
            # Switching tabs never pops a login dialog: the person asks for it with Show.
            self._say("The audit log needs a QA login: press Show to log in.", error=True)
            return
        self._loaded = self.reload()

    def _may_read(self) -> bool:
        if self._access is None:
            return True
        if self._access.require(Role.QA, self, "Reading the audit log") is None:
            self._say("The audit log needs a QA login: press Show to log in.", error=True)
            return False
        return True

    def _fill_choices(self, engine: Engine) -> None:
        actions, actors = audit_choices(engine)
        for combo, values in ((self.action, actions), (self.actor, actors)):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ALL, *values])
            combo.setCurrentText(current if current in values else ALL)
            combo.blockSignals(False)

    def _ask_export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export audit log", "audit.csv", "CSV (*.csv)")
        if name:
            try:
                self.export_csv(Path(name))
            except OSError as exc:
                self._say(f"Cannot write {name}: {exc.strerror or exc}", error=True)

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setStyleSheet("color: #e5535e;" if error else "color: #2fa862;")
        self.message.setText(text)


def _cells(entry: AuditEntry) -> tuple[str, ...]:
    if entry.old_value is not None:
        change = f"{entry.old_value} → {entry.new_value or ''}"
    else:
        change = entry.new_value or ""
    return (
        f"{entry.at.astimezone():%Y-%m-%d %H:%M:%S}",
        entry.actor,
        entry.action,
        entry.subject,
        change,
        entry.reason or "",
    )


def _choice(combo: QComboBox) -> str | None:
    text = combo.currentText()
    return None if text in ("", ALL) else text


def _datetime_edit(value: QDateTime) -> QDateTimeEdit:
    edit = QDateTimeEdit(value)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd HH:mm")
    return edit
