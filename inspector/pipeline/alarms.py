"""Alarms the operator must see: source failures, unreadable frames, storage trouble."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class Severity(StrEnum):
    """How loud an alarm is: warnings keep the line running, errors stopped something."""

    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Alarm:
    """One event for the operator, with the text they will read."""

    severity: Severity
    source: str
    message: str
    raised_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __str__(self) -> str:
        stamp = self.raised_at.astimezone().strftime("%H:%M:%S")
        return f"{stamp} {self.severity.value.upper()} [{self.source}] {self.message}"
