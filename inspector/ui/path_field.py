"""A path line edit with a Browse button: the Models tab's folder and package choices."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget


def path_field(owner: QWidget, hint: str, *, folder: bool) -> QLineEdit:
    """A path line edit with a Browse button beside it (the row is the edit's parent)."""
    row = QWidget(owner)
    edit = QLineEdit(row)
    edit.setPlaceholderText(hint)
    browse = QPushButton("Browse…", row)

    def choose() -> None:
        if folder:
            name = QFileDialog.getExistingDirectory(owner, hint, edit.text())
        else:
            name, _ = QFileDialog.getSaveFileName(owner, hint, edit.text())
        if name:
            edit.setText(name)

    browse.clicked.connect(choose)
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(browse)
    return edit
