"""The station's deployment history as a table: every promotion, rollback and shadow run."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from inspector.storage.deployments import Deployment

COLUMNS = ("when", "action", "role", "model", "by", "reason", "compare")


class DeploymentTable(QTableWidget):
    """Newest first; read-only (the records are append-only and audited)."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("reason"), QHeaderView.ResizeMode.Stretch)

    def show_history(self, history: list[Deployment]) -> None:
        """Show ``history`` (oldest first, as stored) newest first."""
        self.setRowCount(len(history))
        for row, d in enumerate(reversed(history)):
            verdict = (d.metrics or {}).get("verdict", "")
            cells = (
                f"{d.at.astimezone():%Y-%m-%d %H:%M:%S}",
                d.action.value,
                d.role,
                d.model_version or "-",
                d.actor,
                d.reason or "",
                str(verdict),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(str(d.model_path) if d.model_path else text)
                self.setItem(row, column, item)
