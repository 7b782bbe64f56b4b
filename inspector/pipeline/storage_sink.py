"""The station's storage output: the record writer, plus image retention while the line runs.

The station starts and stops one sink; retention belongs to the same lifetime
(it must not run when no line owns the image folder), so both are one sink.
"""

from __future__ import annotations

from inspector.core.inspection import Inspection
from inspector.storage.retention_worker import RetentionWorker
from inspector.storage.writer import RecordWriter


class StorageSink:
    """Records go to ``writer``; ``retention`` (optional) prunes images in the background."""

    def __init__(self, writer: RecordWriter, retention: RetentionWorker | None = None) -> None:
        self.writer = writer
        self.retention = retention

    def start(self) -> None:
        """Start writing, then housekeeping."""
        self.writer.start()
        if self.retention is not None:
            self.retention.start()

    def submit(self, inspection: Inspection) -> None:
        """Queue one inspection for the writer (never blocks)."""
        self.writer.submit(inspection)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop housekeeping after its current batch, then flush every record."""
        if self.retention is not None:
            self.retention.stop(min(timeout, 5.0))
        self.writer.stop(timeout)
