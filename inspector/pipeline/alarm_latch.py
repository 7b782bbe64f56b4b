"""One alarm per fault, not one per part: raised when a fault starts, cleared when it ends."""

from __future__ import annotations

from collections.abc import Callable

from inspector.pipeline.alarms import Severity


class AlarmLatch:
    """Turns a per-part "it failed" / "it worked" into two alarms per outage.

    A PLC read fails for every part while the PLC is away; the operator needs
    to hear it once, and once more when it is back.

    Args:
        raise_alarm: The station's ``raise_alarm(severity, source, message)``.
        source: Alarm source shown to the operator (``"traceability"``).
    """

    def __init__(self, raise_alarm: Callable[[Severity, str, str], None], source: str) -> None:
        self._raise = raise_alarm
        self.source = source
        self.active = False
        self.failures = 0

    def failed(self, message: str) -> None:
        """Count a failure; alarm only on the first of a run of them."""
        self.failures += 1
        if not self.active:
            self.active = True
            self._raise(Severity.WARNING, self.source, message)

    def ok(self, message: str) -> None:
        """Note a success; clear the alarm (with ``message``) if it was raised."""
        if self.active:
            self.active = False
            self._raise(Severity.WARNING, self.source, message)
