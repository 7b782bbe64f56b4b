"""Toolbar controls: which source feeds the line, and start / pause / stop."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from inspector.pipeline.station import LineState

SOURCE_KINDS = {
    "Demo line": ("demo", "built-in synthetic parts"),
    "Image folder": ("", "folder of images, replayed in order"),
    "Video file": ("", "video file (.mp4, .avi, ...)"),
    "Camera": ("0", "camera index (0, 1, ...) or rtsp:// / http:// URL"),
}


class SourceBar(QWidget):
    """Lets the operator pick a source and run the line; emits plain requests."""

    start_requested = Signal(str, bool)
    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        self.kind.addItems(list(SOURCE_KINDS))
        self.location = QLineEdit()
        self.browse = QPushButton("Browse…")
        self.loop = QCheckBox("Loop")
        self.start_button = QPushButton("▶ Start")
        self.start_button.setObjectName("startButton")
        self.pause_button = QPushButton("❚❚ Pause")
        self.stop_button = QPushButton("■ Stop")
        self.stop_button.setObjectName("stopButton")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.kind, self.location, self.browse, self.loop):
            layout.addWidget(widget)
        layout.addStretch(1)
        for widget in (self.start_button, self.pause_button, self.stop_button):
            layout.addWidget(widget)
        self.location.setMinimumWidth(260)
        self.kind.currentTextChanged.connect(self._kind_changed)
        self.browse.clicked.connect(self._browse)
        self.start_button.clicked.connect(self._start)
        self.pause_button.clicked.connect(self._pause)
        self.stop_button.clicked.connect(self.stop_requested)
        self._kind_changed(self.kind.currentText())
        self.show_state(LineState.IDLE)

    def source_spec(self) -> str:
        """The source as the factory understands it."""
        if self.kind.currentText() == "Demo line":
            return "demo"
        return self.location.text().strip()

    def set_source(self, spec: str) -> None:
        """Reflect a source chosen elsewhere (command line)."""
        if spec == "demo":
            self.kind.setCurrentText("Demo line")
            return
        kind = "Camera" if spec.isdigit() or "://" in spec else "Image folder"
        if spec.lower().endswith((".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")):
            kind = "Video file"
        self.kind.setCurrentText(kind)
        self.location.setText(spec)

    def show_state(self, state: LineState) -> None:
        """Enable the buttons that make sense in ``state``."""
        self._state = state
        active = state in (LineState.STARTING, LineState.RUNNING, LineState.PAUSED)
        self.start_button.setText("↻ Restart" if active else "▶ Start")
        self.pause_button.setEnabled(active)
        self.pause_button.setText("▶ Resume" if state is LineState.PAUSED else "❚❚ Pause")
        self.stop_button.setEnabled(active)

    def _kind_changed(self, kind: str) -> None:
        default, hint = SOURCE_KINDS[kind]
        is_demo = kind == "Demo line"
        self.location.setEnabled(not is_demo)
        self.location.setPlaceholderText(hint)
        self.location.setText(default if kind in ("Demo line", "Camera") else "")
        self.browse.setEnabled(kind in ("Image folder", "Video file"))
        self.loop.setEnabled(kind in ("Image folder", "Video file"))

    def _browse(self) -> None:
        if self.kind.currentText() == "Image folder":
            path = QFileDialog.getExistingDirectory(self, "Image folder")
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Video file", "", "Videos (*.mp4 *.avi *.mov *.mkv *.m4v *.webm)"
            )
        if path:
            self.location.setText(path)

    def _start(self) -> None:
        self.start_requested.emit(self.source_spec(), self.loop.isChecked())

    def _pause(self) -> None:
        if self._state is LineState.PAUSED:
            self.resume_requested.emit()
        else:
            self.pause_requested.emit()
