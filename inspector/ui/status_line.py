"""The status bar: line state, pace, latency, queue depth, device, model and source."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from inspector.pipeline.station import LineState
from inspector.pipeline.statistics import StatsSnapshot


class StatusLine(QStatusBar):
    """Permanent labels a line engineer reads at a glance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = QLabel()
        self.rate = QLabel()
        self.latency = QLabel()
        self.queue = QLabel()
        self.device = QLabel()
        self.model = QLabel()
        self.source = QLabel()
        labels = (self.state, self.rate, self.latency, self.queue, self.device, self.model)
        for label in (*labels, self.source):
            self.addPermanentWidget(label)
        self.show_figures(LineState.IDLE, None, 0, "", "")
        self.show_model("model –")

    def show_figures(
        self,
        state: LineState,
        snap: StatsSnapshot | None,
        queue_depth: int,
        device: str,
        source: str,
    ) -> None:
        """Refresh every label."""
        self.state.setText(f"Line: {state.value}")
        rate = snap.parts_per_s if snap else 0.0
        self.rate.setText(f"{rate:.1f} parts/s")
        if snap is None or math.isnan(snap.latency_p50_ms):
            self.latency.setText("latency –")
        else:
            self.latency.setText(
                f"latency p50 {snap.latency_p50_ms:.0f} ms · p99 {snap.latency_p99_ms:.0f} ms"
            )
        self.queue.setText(f"queue {queue_depth}")
        self.device.setText(device or "device –")
        self.source.setText(source or "no source")

    def show_model(self, text: str) -> None:
        """Which model version the line runs (it changes when the model learns a part)."""
        self.model.setText(text)
