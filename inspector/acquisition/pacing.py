"""Paces a source at a fixed part rate, like a line's trigger clock."""

from __future__ import annotations

import threading
import time


class Pacer:
    """Hands out trigger times ``1 / rate_hz`` apart on the monotonic clock.

    A live line keeps an absolute schedule (``start + n / rate``): rendering
    time does not make it drift, and when the consumer falls behind,
    :meth:`wait` returns at once with the *scheduled* trigger time. The part
    was on the line then; stamping it so lets the pipeline see the lateness
    and handle the part fail-safe instead of the delay vanishing.

    A replay (``live=False``) may be slowed down by its consumer: a late call
    restarts the schedule from now and is stamped now, so nothing looks late.

    Args:
        rate_hz: Parts per second; ``0`` means as fast as the consumer asks.
        stop: Event that cuts a wait short (set by ``close()`` from any thread).
        live: Keep an absolute schedule (see above).
    """

    def __init__(self, rate_hz: float, stop: threading.Event, *, live: bool) -> None:
        if rate_hz < 0:
            msg = f"rate_hz must be 0 (unpaced) or positive, got {rate_hz}"
            raise ValueError(msg)
        self._period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self._stop = stop
        self._live = live
        self._next: float | None = None

    def wait(self) -> float | None:
        """Sleep until the next trigger; return its time, or ``None`` if stopped meanwhile."""
        now = time.monotonic()
        if self._period == 0.0:
            return None if self._stop.is_set() else now
        due = now if self._next is None else self._next
        if due < now and not self._live:
            due = now
        self._next = due + self._period
        if due > now and self._stop.wait(due - now):
            return None
        return None if self._stop.is_set() else due
