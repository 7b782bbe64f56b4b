"""The exact binomial interval of a measured rate, against values worked out by hand."""

from __future__ import annotations

import pytest

from inspector.reports.rate_interval import counted, rate_interval


def test_no_events_bounds_the_rate_by_the_rule_of_the_tail() -> None:
    # 0 of n: the upper bound p solves (1 - p)^n = 0.025, so p = 1 - 0.025^(1/n).
    interval = rate_interval(0, 59)
    assert interval.low == 0.0
    assert interval.high == pytest.approx(1 - 0.025 ** (1 / 59), abs=1e-9)  # 6.06 %


def test_all_events_mirror_none() -> None:
    interval = rate_interval(59, 59)
    assert interval.high == 1.0
    assert interval.low == pytest.approx(0.025 ** (1 / 59), abs=1e-9)


def test_one_in_ten_matches_the_published_clopper_pearson_interval() -> None:
    # One success in ten: 0.0025 to 0.4450 (the textbook exact interval).
    interval = rate_interval(1, 10)
    assert interval.low == pytest.approx(0.0025286, abs=1e-6)
    assert interval.high == pytest.approx(0.4450161, abs=1e-6)


def test_a_large_count_stays_finite_and_contains_the_rate() -> None:
    interval = rate_interval(5, 100_000)
    assert 0.0 < interval.low < 5 / 100_000 < interval.high < 1e-3


@pytest.mark.parametrize(("events", "trials"), [(-1, 10), (11, 10), (0, 0)])
def test_impossible_counts_are_refused(events: int, trials: int) -> None:
    with pytest.raises(ValueError, match="cannot bound"):
        rate_interval(events, trials)


def test_the_text_says_the_counts_and_the_interval() -> None:
    assert counted(rate_interval(0, 59)) == " (0 of 59; 95 % CI 0.0-6.1 %)"
    assert counted(None) == ""


def test_a_million_parts_is_fast_and_small_rates_keep_their_digits() -> None:
    import time

    started = time.perf_counter()
    half = rate_interval(500_000, 1_000_000)
    assert time.perf_counter() - started < 5.0
    assert half.low < 0.5 < half.high and half.high - half.low < 0.003
    # 5 in 100,000: the interval is small but not zero.
    assert counted(rate_interval(5, 100_000)) == " (5 of 100000; 95 % CI 0.0016-0.012 %)"
