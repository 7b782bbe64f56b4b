"""Big, glanceable counters for the operator: inspected, OK, NG, review, yield."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from inspector.pipeline.statistics import StatsSnapshot


class _Counter(QFrame):
    def __init__(self, title: str, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("counter")
        self.setProperty("role", role)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        caption = QLabel(title)
        caption.setObjectName("counterTitle")
        self.value = QLabel("0")
        self.value.setObjectName("counterValue")
        layout.addWidget(caption)
        layout.addWidget(self.value)


class CountersPanel(QWidget):
    """Shows a :class:`StatsSnapshot` as five counters."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        self.inspected = _Counter("Inspected", "neutral")
        self.accepted = _Counter("OK", "ok")
        self.rejected = _Counter("NG", "ng")
        self.review = _Counter("Review", "review")
        self.yield_pct = _Counter("Yield", "neutral")
        for index, counter in enumerate(
            (self.inspected, self.yield_pct, self.accepted, self.rejected, self.review)
        ):
            grid.addWidget(counter, index // 2, index % 2)

    def show_snapshot(self, snap: StatsSnapshot) -> None:
        """Update all counters from one consistent snapshot."""
        self.inspected.value.setText(f"{snap.inspected:,}")
        self.accepted.value.setText(f"{snap.accepted:,}")
        self.rejected.value.setText(f"{snap.rejected:,}")
        self.review.value.setText(f"{snap.review:,}")
        self.yield_pct.value.setText(
            "–" if math.isnan(snap.yield_pct) else f"{snap.yield_pct:.1f} %"
        )
