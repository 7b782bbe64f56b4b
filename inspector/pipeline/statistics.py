"""Running counts and rates of a line, readable from any thread as a snapshot."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from inspector.core.inspection import Inspection
from inspector.core.verdict import Verdict


@dataclass(frozen=True)
class TruthCounts:
    """Verdicts against known ground truth (demo line, labelled replays)."""

    defective_total: int = 0
    defective_caught: int = 0
    good_total: int = 0
    good_accepted: int = 0

    @property
    def catch_rate(self) -> float:
        """Fraction of defective parts that were not accepted (nan without any)."""
        return (
            self.defective_caught / self.defective_total if self.defective_total else float("nan")
        )

    @property
    def good_accept_rate(self) -> float:
        """Fraction of good parts that were accepted (nan without any)."""
        return self.good_accepted / self.good_total if self.good_total else float("nan")


@dataclass(frozen=True)
class StatsSnapshot:
    """A consistent copy of the line's figures at one moment."""

    inspected: int
    accepted: int
    rejected: int
    review: int
    not_inspected: int
    parts_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    inference_p50_ms: float
    truth: TruthCounts
    recent_rejects: tuple[Inspection, ...]

    @property
    def yield_pct(self) -> float:
        """Accepted parts as a percentage of all parts (nan before the first)."""
        return 100.0 * self.accepted / self.inspected if self.inspected else float("nan")


class LineStatistics:
    """Thread-safe accumulator fed by the inference worker, read by the UI and CLI.

    Latency percentiles cover the last ``window`` parts; parts/s covers the last
    ``rate_window_s`` seconds so the figure follows the line's current pace.
    """

    def __init__(self, window: int = 2000, rate_window_s: float = 5.0, recent: int = 12) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(Verdict, 0)
        self._not_inspected = 0
        self._latency = deque(maxlen=window)
        self._inference = deque(maxlen=window)
        self._times: deque[float] = deque()
        self._rate_window_s = rate_window_s
        self._recent_rejects: deque[Inspection] = deque(maxlen=recent)
        self._truth = [0, 0, 0, 0]

    def record(self, inspection: Inspection) -> None:
        """Count one finished part."""
        now = time.monotonic()
        with self._lock:
            self._counts[inspection.verdict] += 1
            if inspection.error:
                self._not_inspected += 1
            else:
                self._latency.append(inspection.latency_ms)
                self._inference.append(inspection.inference_ms)
            self._times.append(now)
            while self._times and now - self._times[0] > self._rate_window_s:
                self._times.popleft()
            if inspection.verdict is not Verdict.ACCEPT:
                self._recent_rejects.appendleft(inspection)
            truth = inspection.frame.truth
            if truth is not None:
                if truth:
                    self._truth[0] += 1
                    self._truth[1] += inspection.verdict is not Verdict.ACCEPT
                else:
                    self._truth[2] += 1
                    self._truth[3] += inspection.verdict is Verdict.ACCEPT

    def snapshot(self) -> StatsSnapshot:
        """Return the current figures."""
        now = time.monotonic()
        with self._lock:
            times = [t for t in self._times if now - t <= self._rate_window_s]
            if len(times) >= 2:
                span = max(now - times[0], 1e-6)
                rate = len(times) / span
            else:
                rate = 0.0
            latency = np.asarray(self._latency, dtype=float)
            inference = np.asarray(self._inference, dtype=float)
            counts = dict(self._counts)
            return StatsSnapshot(
                inspected=sum(counts.values()),
                accepted=counts[Verdict.ACCEPT],
                rejected=counts[Verdict.REJECT],
                review=counts[Verdict.REVIEW],
                not_inspected=self._not_inspected,
                parts_per_s=rate,
                latency_p50_ms=_percentile(latency, 50),
                latency_p99_ms=_percentile(latency, 99),
                inference_p50_ms=_percentile(inference, 50),
                truth=TruthCounts(*self._truth),
                recent_rejects=tuple(self._recent_rejects),
            )


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else float("nan")
