"""The reject-gate thread: delivers every verdict to the actuator, in order, never losing one."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from inspector.core.inspection import Inspection
from inspector.decision.actuator import Actuator, ActuatorError
from inspector.pipeline.alarms import Alarm, Severity

log = logging.getLogger(__name__)

_BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)


class GateWorker:
    """Takes decided parts from the inference thread and signals the actuator.

    The inference thread only enqueues (``submit`` never blocks). When the link
    to the actuator fails, the same verdict is retried with backoff until it is
    delivered, so verdicts arrive complete and in part order once the link is
    back; the operator gets one alarm when it drops and one when it returns.

    Args:
        actuator: The gate output.
        deadline_ms: A verdict written later than this after acquisition is
            counted late (the part has passed the gate; the PLC's own no-verdict
            default must handle it) and raises an alarm. An actuator that cannot
            tell parts apart (``tracks_parts = False``, a relay) is not signalled
            at all once the deadline has passed: its pulse would hit another part.
        on_alarm: Called with alarms (link down/up, late verdicts).
    """

    def __init__(
        self,
        actuator: Actuator,
        *,
        deadline_ms: float | None = None,
        on_alarm: Callable[[Alarm], None] | None = None,
    ) -> None:
        self.actuator = actuator
        self._deadline_ms = deadline_ms
        self._on_alarm = on_alarm
        self._queue: queue.SimpleQueue[Inspection | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._latency: deque[float] = deque(maxlen=5000)
        self.delivered = 0
        self.late = 0
        self.not_signalled = 0
        self.failures = 0
        self._undelivered: list[Inspection] = []

    def start(self) -> None:
        """Start the gate thread."""
        self._thread = threading.Thread(target=self._run, name="gate", daemon=True)
        self._thread.start()

    def submit(self, inspection: Inspection) -> None:
        """Queue a decided part (inference thread; never blocks)."""
        self._queue.put(inspection)

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (while the link works), then stop and close.

        Raises:
            ActuatorError: verdicts were left undelivered (the link was still down
                at the deadline); the message names the parts, to be sorted by hand.
        """
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._stop.set()
                self._thread.join(1.0)
        self.actuator.close()
        left = self._undelivered + self._drained()
        if left:
            parts = ", ".join(str(i.frame.part_id) for i in left[:20])
            more = f" and {len(left) - 20} more" if len(left) > 20 else ""
            msg = (
                f"{len(left)} verdicts were not delivered to {self.actuator.name} when the line "
                f"stopped (parts {parts}{more}): its link was down; sort these parts by hand "
                "(their records are stored)"
            )
            raise ActuatorError(msg)

    def _drained(self) -> list[Inspection]:
        """What is still queued, taken out (after the gate thread has stopped)."""
        left = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return left
            if item is not None:
                left.append(item)

    @property
    def pending(self) -> int:
        """Verdicts not yet delivered."""
        return self._queue.qsize()

    def latency_ms(self) -> tuple[float, float]:
        """Acquisition-to-actuator-write latency, (p50, p99) in ms (nan before any)."""
        with self._lock:
            values = np.asarray(self._latency, dtype=float)
        if not values.size:
            return float("nan"), float("nan")
        return float(np.percentile(values, 50)), float(np.percentile(values, 99))

    def _run(self) -> None:
        while True:
            inspection = self._queue.get()
            if inspection is None:
                return
            if not self._deliver(inspection):
                self._undelivered.append(inspection)
                return

    def _deliver(self, inspection: Inspection) -> bool:
        """Signal one part, retrying until delivered; False when stopped first."""
        attempt = 0
        while True:
            if self._too_late_to_signal(inspection):
                return True
            try:
                self.actuator.signal(inspection.frame.part_id, inspection.verdict)
            except Exception as exc:  # a driver bug as much as a link down: retry, say so
                self.failures += 1
                if attempt == 0:
                    if not isinstance(exc, ActuatorError):
                        log.exception("gate %s failed", self.actuator.name)
                    said = str(exc) if isinstance(exc, ActuatorError) else f"{exc!r}"
                    self._alarm(Severity.ERROR, f"{said}; retrying, no verdict is dropped")
                delay = _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]
                attempt += 1
                if self._stop.wait(delay):
                    return False
                continue
            break
        if attempt:
            self._alarm(Severity.WARNING, f"gate {self.actuator.name} reachable again")
        latency = 1000.0 * (time.monotonic() - inspection.frame.timestamp)
        with self._lock:
            self._latency.append(latency)
        self.delivered += 1
        if self._deadline_ms is not None and latency > self._deadline_ms:
            self.late += 1
            self._alarm(
                Severity.WARNING,
                f"verdict of part {inspection.frame.part_id} reached the gate late "
                f"({latency:.0f} ms > {self._deadline_ms:.0f} ms)",
            )
        return True

    def _too_late_to_signal(self, inspection: Inspection) -> bool:
        """Count (and alarm) a verdict a part-blind actuator must no longer act on."""
        if self._deadline_ms is None or getattr(self.actuator, "tracks_parts", True):
            return False
        age = 1000.0 * (time.monotonic() - inspection.frame.timestamp)
        if age <= self._deadline_ms:
            return False
        self.late += 1
        self.not_signalled += 1
        self._alarm(
            Severity.WARNING,
            f"part {inspection.frame.part_id} ({inspection.verdict.value}) passed "
            f"{self.actuator.name} unsignalled: its verdict came {age:.0f} ms after "
            f"acquisition, past the {self._deadline_ms:.0f} ms deadline; check it by hand",
        )
        return True

    def _alarm(self, severity: Severity, message: str) -> None:
        alarm = Alarm(severity, "gate", message)
        log.warning("%s", alarm)
        if self._on_alarm is not None:
            try:
                self._on_alarm(alarm)
            except Exception:
                log.exception("alarm handler failed")
