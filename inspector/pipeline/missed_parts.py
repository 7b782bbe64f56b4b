"""Accounting for parts that passed while the camera did not see them.

With a part counter (the PLC counts every trigger), each part counted but not
acquired becomes a record of its own, fail-safe, so that inspected +
not-inspected = triggered. Without one, camera outages are timed and the parts
missed are estimated from the line's rate, and said to be an estimate.

A trigger is counted a moment before its frame arrives, so one reading may see
a part whose frame is still on its way. A backlog is therefore only recorded
when two readings in a row show it (less ``in_flight``, the parts a fast line
has between trigger and camera); at the end of a run all of it is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from inspector.core.frame import Frame

CAMERA_DOWN = "not inspected: camera down"
NO_FRAME = "not inspected: counted by the part counter, no frame from the camera"
STOPPED = "not inspected: counted by the part counter, the line stopped before its frame"


def not_captured(
    part_id: int, *, origin: str = "part counter", timestamp: float | None = None
) -> Frame:
    """A pixel-less frame standing for a part that passed without a frame (``origin``:
    what told of it; ``timestamp``: when, on the monotonic clock, default now)."""
    return Frame(
        image=np.zeros((0, 0, 3), dtype=np.uint8),
        camera_id="",
        part_id=part_id,
        timestamp=time.monotonic() if timestamp is None else timestamp,
        captured_at=datetime.now(UTC),
        origin=origin,
    )


class TriggerCounter(Protocol):
    """Parts the line counted (see :class:`~inspector.acquisition.part_counter.PartCounter`)."""

    name: str
    started: bool

    def start(self) -> None: ...

    def triggered(self) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Outage:
    """One time the camera was down."""

    duration_s: float
    rate_hz: float | None
    rate_basis: str
    estimated_missed: int | None

    def describe(self) -> str:
        """For the operator: how long, and (without a counter) about how many parts."""
        text = f"down {self.duration_s:.1f} s"
        if self.estimated_missed is not None and self.rate_hz:
            text += (
                f"; estimate: about {self.estimated_missed} parts missed at the "
                f"{self.rate_basis} {self.rate_hz:g} parts/s (no part counter to count them)"
            )
        return text


@dataclass(frozen=True)
class DowntimeSnapshot:
    """Camera downtime so far, for the line statistics."""

    outages: int
    down_s: float
    down_now: bool
    estimated_missed: int | None
    counted_missed: int
    has_counter: bool

    def describe(self) -> str:
        """One line for the summary."""
        text = f"camera down {self.outages}x, {self.down_s:.1f} s in all"
        if self.down_now:
            text += " (down now)"
        if self.has_counter:
            return f"{text}; {self.counted_missed} counted parts recorded as not inspected"
        if self.estimated_missed is None:
            return f"{text}; parts missed unknown (no part counter, no line rate)"
        return f"{text}; estimate: about {self.estimated_missed} parts missed (no part counter)"


class MissedParts:
    """Compares the part counter with the parts acquired; times camera outages.

    Called on the acquisition thread; :meth:`snapshot` from any thread.

    Args:
        counter: The PLC's trigger counter, or None.
        nominal_rate_hz: Parts per second of the line, for estimates without a
            counter; None uses the rate measured before the outage.
        in_flight: Parts a fast line has between the trigger and the camera's
            frame (0 when the frame arrives before the next trigger).
    """

    def __init__(
        self,
        counter: TriggerCounter | None = None,
        *,
        nominal_rate_hz: float | None = None,
        in_flight: int = 0,
    ) -> None:
        if in_flight < 0:
            msg = f"in_flight must be >= 0 parts, got {in_flight}"
            raise ValueError(msg)
        self.counter = counter
        self._nominal_rate_hz = nominal_rate_hz
        self._in_flight = in_flight
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._down_rate: tuple[float | None, str] = (None, "")
        self._outages: list[Outage] = []
        self._base = 0
        self._backlog = 0
        self._counted_missed = 0
        self._outage_unsettled = False

    @property
    def surplus(self) -> int:
        """Parts acquired beyond what the counter counted at the last reading.

        More than ``in_flight`` at the end of a run means the counter is not
        counting this camera's parts (wrong register, or a counter that was
        reset) and the accounting cannot be trusted.
        """
        with self._lock:
            return max(0, -self._backlog)

    @property
    def has_counter(self) -> bool:
        """Whether parts are counted (exact accounting) or estimated."""
        return self.counter is not None

    def camera_down(self, measured_rate_hz: float) -> None:
        """The camera failed now; ``measured_rate_hz`` is the line's recent pace."""
        rate: tuple[float | None, str] = (self._nominal_rate_hz, "configured")
        if rate[0] is None and measured_rate_hz > 0:
            rate = (round(measured_rate_hz, 1), "measured")
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                self._down_rate = rate

    def camera_back(self) -> Outage | None:
        """The camera delivers again; the outage just ended (None if it was not down)."""
        with self._lock:
            if self._down_since is None:
                return None
            duration = time.monotonic() - self._down_since
            rate, basis = self._down_rate
            estimate = None if rate is None or self.has_counter else round(duration * rate)
            outage = Outage(duration, rate, basis, estimate)
            self._outages.append(outage)
            self._down_since = None
            self._outage_unsettled = True
            return outage

    def settle(self, acquired: int, *, final: bool = False) -> tuple[int, str]:
        """Parts to record as not inspected now, and why.

        The first call reads the counter's starting value (which includes the
        part just arriving) and settles nothing.

        Args:
            acquired: Parts acquired so far (the one just arriving included).
            final: The run is ending: every counted part without a frame is missing.

        Raises:
            PlcReadError: the counter could not be read (nothing is settled).
        """
        counter = self.counter
        if counter is None:
            return 0, ""
        if not counter.started:  # this part's trigger (and those in flight) are in it
            counter.start()
            self._base = acquired + self._in_flight
            return 0, ""
        triggered = counter.triggered()
        with self._lock:
            backlog = triggered - (acquired - self._base) - self._counted_missed
            if final:
                missing, reason = max(0, backlog), STOPPED
            else:
                missing = max(0, min(self._backlog, backlog) - self._in_flight)
                reason = CAMERA_DOWN if self._outage_unsettled else NO_FRAME
            self._counted_missed += missing
            self._backlog = backlog - missing
            if missing and self._outage_unsettled:
                self._outage_unsettled = False
            return missing, reason

    def snapshot(self) -> DowntimeSnapshot:
        """Downtime so far (an outage still going on is counted up to now)."""
        with self._lock:
            outages = list(self._outages)
            down_now = self._down_since is not None
            down_s = sum(o.duration_s for o in outages)
            estimates = [o.estimated_missed for o in outages]
            rate = self._down_rate[0]
            if down_now:
                ongoing = time.monotonic() - self._down_since
                down_s += ongoing
                estimates.append(None if rate is None else round(ongoing * rate))
            known = [e for e in estimates if e is not None]
            estimate = sum(known) if known and not self.has_counter else None
            return DowntimeSnapshot(
                outages=len(outages) + down_now,
                down_s=down_s,
                down_now=down_now,
                estimated_missed=estimate,
                counted_missed=self._counted_missed,
                has_counter=self.has_counter,
            )
