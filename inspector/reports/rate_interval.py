"""How sure a measured rate is: the exact (Clopper–Pearson) binomial confidence interval.

A validation file that says "0 of 59 defective parts escaped" claims much
less than "the escape rate is 0 %": with 59 parts, an escape rate of up to
6.1 % would still give 0 escapes one time in 40. The exact interval says so
without a normal approximation (which fails at 0 and at small counts), and
it is the one quality standards expect for pass/fail sampling. Pure Python
(``math.lgamma``), no statistics package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CONFIDENCE = 0.95
"""Two-sided confidence of the intervals in reports."""


@dataclass(frozen=True)
class RateInterval:
    """``events`` of ``trials`` and the rate's two-sided confidence interval."""

    events: int
    trials: int
    low: float
    high: float


def rate_interval(events: int, trials: int, confidence: float = CONFIDENCE) -> RateInterval:
    """The Clopper–Pearson interval of a rate observed as ``events`` in ``trials``.

    Raises:
        ValueError: counts out of range (negative, more events than trials, no
            trials) or a confidence outside (0, 1).
    """
    if not 0 < trials or not 0 <= events <= trials:
        msg = (
            f"cannot bound a rate of {events} events in {trials} trials: "
            "need 0 <= events <= trials and at least one trial"
        )
        raise ValueError(msg)
    if not 0.0 < confidence < 1.0:
        msg = f"confidence must be between 0 and 1, got {confidence}"
        raise ValueError(msg)
    tail = (1.0 - confidence) / 2.0
    # Lower bound: the p at which seeing `events` or more is just `tail` likely.
    at_least = lambda p: 1.0 - _cdf(events - 1, trials, p)  # noqa: E731 - grows with p
    low = 0.0 if events == 0 else _solve(at_least, tail, rising=True)
    # Upper bound: the p at which seeing `events` or fewer is just `tail` likely.
    at_most = lambda p: _cdf(events, trials, p)  # noqa: E731 - falls with p
    high = 1.0 if events == trials else _solve(at_most, tail, rising=False)
    return RateInterval(events, trials, low, high)


def _cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (no overflow for large n).

    Only terms within 40 standard deviations of the mean are summed (the rest
    are below 1e-300), so a report of a million parts stays fast.
    """
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    spread = 40.0 * math.sqrt(n * p * (1.0 - p)) + 1.0
    start = max(0, math.floor(n * p - spread))
    stop = min(k, math.ceil(n * p + spread))
    if k < start:
        return 0.0
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    total = 0.0
    for i in range(start, stop + 1):
        log_term = log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        total += math.exp(log_term)
    return min(total, 1.0)


def _solve(probability, target: float, *, rising: bool) -> float:  # noqa: ANN001 - p -> probability
    """The p in [0, 1] where the monotone ``probability(p)`` crosses ``target`` (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        below = probability(mid) < target
        if below == rising:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def counted(interval: RateInterval | None) -> str:
    """`` (3 of 59; 95 % CI 1.1-14.1 %)``: what a rate rests on and how sure it is ("" for none)."""
    if interval is None:
        return ""
    return (
        f" ({interval.events} of {interval.trials}; {100 * CONFIDENCE:.0f} % CI "
        f"{_percent(interval.low)}-{_percent(interval.high)} %)"
    )


def _percent(share: float) -> str:
    """A share as a percentage: one decimal, or two significant digits below 1 %."""
    value = 100.0 * share
    return f"{value:.1f}" if value >= 1.0 or value == 0.0 else f"{value:.2g}"
