"""Moves pipeline events from worker threads to the GUI thread without slowing the line."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from inspector.core.inspection import Inspection
from inspector.pipeline.alarms import Alarm
from inspector.pipeline.mailbox import LatestMailbox


class StationBridge(QObject):
    """Listener for the station (worker thread) that signals the GUI (queued connection).

    Inspections go through a latest-only mailbox: ``inspection_ready`` is emitted
    only when the box was empty, so a busy GUI reads the newest part and skips the
    rest instead of building a backlog. Alarms are rare and all delivered.
    """

    inspection_ready = Signal()
    alarm_raised = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mailbox: LatestMailbox[Inspection] = LatestMailbox()
        self.received = 0

    def on_inspection(self, inspection: Inspection) -> None:
        """Station listener; runs on the inference thread."""
        self.received += 1
        if self._mailbox.put(inspection):
            self.inspection_ready.emit()

    def on_alarm(self, alarm: Alarm) -> None:
        """Station alarm handler; runs on any thread."""
        self.alarm_raised.emit(alarm)

    def take_latest(self) -> Inspection | None:
        """Newest inspection not yet shown (GUI thread)."""
        return self._mailbox.take()

    @property
    def skipped(self) -> int:
        """Inspections the display skipped because newer ones arrived first."""
        return self._mailbox.replaced
