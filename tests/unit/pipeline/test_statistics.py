import math
from datetime import UTC, datetime

import numpy as np

from inspector.core import Defect, Frame, Inspection, Verdict
from inspector.pipeline.mailbox import LatestMailbox
from inspector.pipeline.statistics import LineStatistics


def _inspection(verdict: Verdict, latency: float, truth=None, error=None) -> Inspection:
    frame = Frame(np.zeros((4, 4, 3), np.uint8), "c", 0, 0.0, datetime.now(UTC), truth=truth)
    return Inspection(frame, verdict, 1.0, 1.0, (), None, "m", "r", 1.0, latency, error)


def test_counts_yield_and_latency_percentiles():
    stats = LineStatistics()
    for latency in range(1, 101):
        stats.record(_inspection(Verdict.ACCEPT, float(latency)))
    stats.record(_inspection(Verdict.REJECT, 50.0))
    stats.record(_inspection(Verdict.REVIEW, 50.0))
    snap = stats.snapshot()
    assert (snap.inspected, snap.accepted, snap.rejected, snap.review) == (102, 100, 1, 1)
    assert snap.yield_pct == 100 * 100 / 102
    assert 49 <= snap.latency_p50_ms <= 51
    assert 98 <= snap.latency_p99_ms <= 100
    assert snap.parts_per_s > 0
    assert [i.verdict for i in snap.recent_rejects] == [Verdict.REVIEW, Verdict.REJECT]


def test_empty_snapshot_has_no_figures():
    snap = LineStatistics().snapshot()
    assert snap.inspected == 0
    assert math.isnan(snap.yield_pct) and math.isnan(snap.latency_p50_ms)


def test_truth_counts_and_not_inspected_are_kept_apart():
    stats = LineStatistics()
    flaw = (Defect("scratch", 1.0, (0, 0, 1, 1), 1),)
    stats.record(_inspection(Verdict.REJECT, 1.0, truth=flaw))
    stats.record(_inspection(Verdict.ACCEPT, 1.0, truth=flaw))
    stats.record(_inspection(Verdict.ACCEPT, 1.0, truth=()))
    stats.record(_inspection(Verdict.REJECT, 1000.0, error="late"))
    snap = stats.snapshot()
    assert snap.truth.catch_rate == 0.5
    assert snap.truth.good_accept_rate == 1.0
    assert snap.not_inspected == 1
    assert snap.latency_p99_ms < 2.0  # not-inspected parts do not distort latency


def test_recent_rejects_are_bounded():
    stats = LineStatistics(recent=3)
    for _ in range(10):
        stats.record(_inspection(Verdict.REJECT, 1.0))
    assert len(stats.snapshot().recent_rejects) == 3


def test_mailbox_keeps_only_the_latest_and_signals_once():
    box: LatestMailbox[int] = LatestMailbox()
    assert box.put(1) is True
    assert box.put(2) is False
    assert box.put(3) is False
    assert box.take() == 3
    assert box.take() is None
    assert box.replaced == 2
    assert box.put(4) is True
