"""The engineer's station editor: the station file as text, its zones drawn on the part.

The file stays the one source of truth: the text tab shows it with the
engineer's comments and layout, and the zone drawer writes its zones into that
text (tomlkit), so one Validate and one Save cover both. Validate lists every
problem with its key, exactly as the line would refuse the file; Save goes
through :func:`~inspector.pipeline.station_file.save_station_text` (refused
when invalid, atomic, previous version kept, audited with who and why).
Saving never changes a running line: it keeps its settings until it is
restarted with the file, and the editor says so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtGui import QFont, QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from inspector.core.errors import InspectorError
from inspector.pipeline.station_config import ConfigError, parse_station_config
from inspector.pipeline.station_file import SavedStation, save_station_text
from inspector.ui.zone_drawer import ZoneDrawer

RESTART_NOTE = (
    "Saving changes the file only: a running line keeps the settings it was started with. "
    "To apply them, stop the line and start it again with this file "
    "(inspector run --config FILE)."
)
TOML_FILTER = "Station files (*.toml)"


class StationEditor(QWidget):
    """Open, edit, validate and save one station file.

    Args:
        audit_engine: Opens the database whose audit log records saves (the
            line's); raises :class:`InspectorError` when it cannot.
        actor: Returns who is saving, or ``None`` when no name was given.
        latest_frame: The line's newest frame (RGB), for the zone drawer's reference.
    """

    def __init__(
        self,
        *,
        audit_engine: Callable[[], Engine],
        actor: Callable[[], str | None],
        latest_frame: Callable[[], np.ndarray | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._audit_engine = audit_engine
        self._actor = actor
        self.path: Path | None = None
        self.loaded: str | None = None  # the file's text when opened (None: a new file)

        self.file_label = QLabel("No station file open")
        self.file_label.setObjectName("heading")
        self.open_button = QPushButton("Open…")
        self.reload_button = QPushButton("Reload")
        self.text = QPlainTextEdit()
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.zones = ZoneDrawer(latest_frame)
        self.pages = QTabWidget()
        self.pages.addTab(self.text, "File")
        self.pages.addTab(self.zones, "Zones")
        self.note = QLabel(RESTART_NOTE)
        self.note.setWordWrap(True)
        self.note.setObjectName("restartNote")
        italic = QFont(self.note.font())
        italic.setItalic(True)
        self.note.setFont(italic)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Reason for the change (stored in the audit log)")
        self.validate_button = QPushButton("Validate")
        self.save_button = QPushButton("Save")
        self.problems = QPlainTextEdit()
        self.problems.setReadOnly(True)
        self.problems.setMaximumHeight(110)
        self.problems.setPlaceholderText("Validate shows every problem here, with its key.")

        top = QHBoxLayout()
        top.addWidget(self.file_label, 1)
        top.addWidget(self.open_button)
        top.addWidget(self.reload_button)
        actions = QHBoxLayout()
        actions.addWidget(self.reason, 1)
        actions.addWidget(self.validate_button)
        actions.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.note)
        layout.addLayout(actions)
        layout.addWidget(self.problems)

        self.open_button.clicked.connect(self._choose_file)
        self.reload_button.clicked.connect(self.reload)
        self.validate_button.clicked.connect(self.validate)
        self.save_button.clicked.connect(self.save)
        self.text.textChanged.connect(self._show_file)
        self.pages.currentChanged.connect(self._page_opened)
        self.zones.zones_changed.connect(self._zones_drawn)
        self._set_enabled(False)

    # -- file ----------------------------------------------------------------------

    def open_file(self, path: str | Path) -> bool:
        """Edit ``path``; a file that does not exist yet starts empty and is created on save."""
        file = Path(path)
        try:
            loaded = file.read_text(encoding="utf-8") if file.exists() else None
        except (OSError, UnicodeDecodeError) as exc:
            self._report(f"Cannot open {file}: {exc}", ok=False)
            return False
        self.path, self.loaded = file, loaded
        self.text.setPlainText(loaded or "")
        self.zones.load_text(self.text.toPlainText())
        self._set_enabled(True)
        self._show_file()
        new = " (new file: Save creates it)" if loaded is None else ""
        self._report(f"Opened {file}{new}.", ok=True)
        return True

    def reload(self) -> None:
        """Throw away unsaved changes and read the file again."""
        if self.path is not None:
            self.open_file(self.path)

    def is_modified(self) -> bool:
        """Whether the text differs from the file as opened."""
        return self.path is not None and self.text.toPlainText() != (self.loaded or "")

    def _choose_file(self) -> None:
        start = str(self.path.parent) if self.path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Station file", start, TOML_FILTER)
        if path:
            self.open_file(path)

    # -- validate and save ---------------------------------------------------------

    def validate(self) -> bool:
        """Check the text as the line would; every problem is listed with its key."""
        if self.path is None:
            return False
        try:
            config = parse_station_config(self.text.toPlainText(), self.path)
        except ConfigError as exc:
            self._report(str(exc), ok=False)
            return False
        zones = len(config.decision.zones)
        self._report(
            f"Valid: station {config.station.name!r}, source {config.camera.source!r}, "
            f"model {config.model.path}, {zones} zone{'s' * (zones != 1)}.",
            ok=True,
        )
        return True

    def save(self) -> SavedStation | None:
        """Validate, then save atomically with a backup and an audit entry; nothing if refused."""
        if self.path is None or not self.validate():
            return None
        actor = self._actor()
        if not actor:
            self._report("Not saved: a user name is needed for the audit log.", ok=False)
            return None
        try:
            engine = self._audit_engine()
            saved = save_station_text(
                self.path,
                self.text.toPlainText(),
                engine=engine,
                actor=actor,
                reason=self.reason.text(),
                expected_old=self.loaded,
            )
        except (InspectorError, ValueError) as exc:
            self._report(f"Not saved: {exc}", ok=False)
            return None
        self.loaded = self.text.toPlainText()
        self.reason.clear()
        self._show_file()
        kept = f" Previous version kept as {saved.backup.name}." if saved.backup else ""
        self._report(
            f"Saved {saved.path.name} (audit entry {saved.audit_id}, by {actor}).{kept}\n"
            f"{RESTART_NOTE}",
            ok=True,
        )
        return saved

    # -- zones ---------------------------------------------------------------------

    def _page_opened(self, index: int) -> None:
        if self.pages.widget(index) is self.zones:
            self.zones.load_text(self.text.toPlainText())

    def _zones_drawn(self) -> None:
        """Write the drawer's zones into the text at once, so Save and the File tab see them."""
        try:
            text = self.zones.write_into(self.text.toPlainText())
        except ConfigError as exc:
            self._report(str(exc), ok=False)
            return
        cursor = self.text.textCursor()  # an edit, not a new document: Ctrl+Z undoes it
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)

    # -- display -------------------------------------------------------------------

    def _show_file(self) -> None:
        if self.path is None:
            return
        mark = " — modified, not saved" if self.is_modified() else ""
        self.file_label.setText(f"Station file: {self.path}{mark}")

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.reload_button, self.validate_button, self.save_button, self.pages):
            widget.setEnabled(enabled)

    def _report(self, text: str, *, ok: bool) -> None:
        self.problems.setPlainText(text)
        self.problems.setStyleSheet("" if ok else "color: #ff8a80;")
