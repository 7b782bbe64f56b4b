"""Quality reports against small real databases whose answers were worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pytest
from sqlalchemy import Engine

from inspector.core import Defect, Verdict
from inspector.reports.quality import (
    ShiftCalendar,
    defect_pareto,
    lighting_drift,
    mean_chart,
    p_chart,
    review_confusion,
    score_drift,
    time_buckets,
    western_electric,
    yield_series,
)
from inspector.storage.engine import open_database
from inspector.storage.repository import add_inspections
from inspector.storage.reviews import add_review
from tests.records import new_record

A, R, V = Verdict.ACCEPT, Verdict.REJECT, Verdict.REVIEW
MAY4 = datetime(2026, 5, 4, tzinfo=UTC)
MAY6 = datetime(2026, 5, 6, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(tmp_path / "quality.db")
    yield engine
    engine.dispose()


def _at(day: int, hour: float) -> datetime:
    return datetime(2026, 5, day, tzinfo=UTC) + timedelta(hours=hour)


def _add(
    engine: Engine,
    when: datetime,
    verdict: Verdict,
    *,
    station: str = "line-1",
    score: float | None = 0.3,
    kinds: tuple[str, ...] = (),
    grey_mean: float | None = None,
) -> int:
    defects = tuple(Defect(kind=k, confidence=0.9, box=(0, 0, 4, 4), area_px=16) for k in kinds)
    record = new_record(
        captured_at=when,
        station=station,
        part_id=0,
        verdict=verdict,
        score=score,
        defects=defects,
        grey_mean=grey_mean,
    )
    return add_inspections(engine, [record])[0]


@pytest.fixture
def two_days(engine: Engine) -> Engine:
    """Parts of 4 and 5 May 2026 (UTC), shifts 06/14/22; totals worked out in the tests."""
    parts = [
        (_at(3, 23.99), A, "line-1"),  # before the range
        (_at(4, 5), A, "line-1"),  # night shift of 3 May
        (_at(4, 7), A, "line-1"),
        (_at(4, 7.5), R, "line-1"),
        (_at(4, 8), V, "line-1"),
        *[(_at(4, 15), A, "line-1")] * 3,
        (_at(4, 15.5), R, "line-1"),
        (_at(4, 23), A, "line-1"),
        (_at(5, 1), R, "line-1"),  # night shift of 4 May, day 5 May
        (_at(5, 10), A, "line-2"),
        (_at(5, 10.5), A, "line-2"),
        (_at(6, 0), R, "line-1"),  # the end is exclusive
    ]
    for when, verdict, station in parts:
        _add(engine, when, verdict, station=station)
    return engine


def test_daily_yield_counts_by_hand(two_days: Engine) -> None:
    series = yield_series(two_days, MAY4, MAY6, bucket="day")
    assert series.buckets.labels == ("2026-05-04", "2026-05-05")
    assert series.accepted.tolist() == [6, 2]
    assert series.rejected.tolist() == [2, 1]
    assert series.review.tolist() == [1, 0]
    assert series.inspected.tolist() == [9, 3]
    assert series.yield_fraction == pytest.approx([6 / 9, 2 / 3])
    assert series.defect_rate == pytest.approx([3 / 9, 1 / 3])


def test_shift_yield_counts_by_hand_with_the_night_shift_across_midnight(
    two_days: Engine,
) -> None:
    series = yield_series(two_days, MAY4, MAY6, bucket="shift")
    assert series.buckets.labels == (
        "2026-05-03 shift 3",  # 00:00-06:00 on 4 May belongs to the night shift of 3 May
        "2026-05-04 shift 1",
        "2026-05-04 shift 2",
        "2026-05-04 shift 3",
        "2026-05-05 shift 1",
        "2026-05-05 shift 2",
        "2026-05-05 shift 3",
    )
    assert series.buckets.starts[3] == _at(4, 22)
    assert series.buckets.ends[3] == _at(5, 6)
    assert series.accepted.tolist() == [1, 1, 3, 1, 2, 0, 0]
    assert series.rejected.tolist() == [0, 1, 1, 1, 0, 0, 0]
    assert series.review.tolist() == [0, 1, 0, 0, 0, 0, 0]
    assert np.isnan(series.yield_fraction[5])  # no parts: no yield, not 0 %


def test_hourly_and_per_station_yield(two_days: Engine) -> None:
    hourly = yield_series(two_days, MAY4, MAY6, bucket="hour")
    assert len(hourly.buckets.starts) == 48
    assert hourly.buckets.labels[7] == "2026-05-04 07:00"
    assert (hourly.accepted[7], hourly.rejected[7]) == (1, 1)  # 07:00 and 07:30
    assert hourly.inspected.sum() == 12
    station = yield_series(two_days, MAY4, MAY6, bucket="day", station="line-1")
    assert station.accepted.tolist() == [6, 0]
    assert station.rejected.tolist() == [2, 1]


def test_custom_shifts_in_the_plants_time_zone_across_daylight_saving() -> None:
    try:
        berlin = ZoneInfo("Europe/Berlin")
    except ZoneInfoNotFoundError:
        pytest.skip("no time zone database on this machine")
    calendar = ShiftCalendar(starts=(time(5, 30), time(17, 30)), tz=berlin)
    # Clocks went forward on 29 March 2026 at 02:00: that day has 23 hours.
    start = datetime(2026, 3, 29, tzinfo=berlin)
    end = datetime(2026, 3, 30, tzinfo=berlin)
    hours = time_buckets(start, end, "hour", calendar)
    assert len(hours.starts) == 23
    assert "2026-03-29 02:00" not in hours.labels
    shifts = time_buckets(start, end, "shift", calendar)
    assert [s.astimezone(UTC).strftime("%H:%M") for s in shifts.starts] == [
        "23:00",  # local midnight, in the night shift of 28 March
        "03:30",  # 05:30 CEST
        "15:30",  # 17:30 CEST
    ]
    assert shifts.labels == ("2026-03-28 shift 2", "2026-03-29 shift 1", "2026-03-29 shift 2")
    # Clocks went back on 25 October: 25 hours, the repeated hour is one two-hour bucket.
    autumn = time_buckets(
        datetime(2026, 10, 25, tzinfo=berlin),
        datetime(2026, 10, 26, tzinfo=berlin),
        "hour",
        calendar,
    )
    assert len(autumn.starts) == 24
    spans = [
        (e.astimezone(UTC) - s.astimezone(UTC)).total_seconds() / 3600
        for s, e in zip(autumn.starts, autumn.ends, strict=True)
    ]
    assert sum(spans) == 25


@pytest.mark.parametrize("start", [time(2, 30), time(2, 10)], ids=["gap-middle", "off-middle"])
def test_a_shift_starting_in_the_skipped_hour_starts_when_the_clock_jumps(
    berlin: ZoneInfo, start: time
) -> None:
    calendar = ShiftCalendar(starts=(start, time(10), time(18)), tz=berlin)
    shifts = time_buckets(
        datetime(2026, 3, 28, 20, tzinfo=berlin),
        datetime(2026, 3, 29, 12, tzinfo=berlin),
        "shift",
        calendar,
    )
    # The start never shows on 29 March: clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC),
    # and the shift starts exactly then, not a fraction of a second later (wrong shift).
    assert shifts.labels == ("2026-03-28 shift 3", "2026-03-29 shift 1", "2026-03-29 shift 2")
    starts = [s.astimezone(UTC) for s in shifts.starts]
    assert starts[1] == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert [s.strftime("%H:%M") for s in starts] == ["19:00", "01:00", "08:00"]


def test_p_chart_limits_by_hand() -> None:
    # p̄ = Σd/Σn = 81/1350 = 0.06; limits p̄ ± 3·sqrt(p̄(1 − p̄)/n_i), clipped to [0, 1].
    chart = p_chart([2, 3, 1, 15, 0, 60], [100, 100, 50, 100, 0, 1000])
    assert chart.centre == pytest.approx(0.06)
    ucl_100 = 0.06 + 3 * 0.0237486842  # sqrt(0.06 * 0.94 / 100)
    ucl_50 = 0.06 + 3 * 0.0335857112  # sqrt(0.06 * 0.94 / 50)
    ucl_1000, lcl_1000 = 0.06 + 3 * 0.0075099933, 0.06 - 3 * 0.0075099933
    assert chart.ucl[[0, 1, 2, 3, 5]] == pytest.approx(
        [ucl_100, ucl_100, ucl_50, ucl_100, ucl_1000]
    )
    assert chart.lcl[[0, 1, 2, 3, 5]] == pytest.approx([0, 0, 0, 0, lcl_1000])
    assert ucl_100 == pytest.approx(0.131246, abs=1e-6)
    assert lcl_1000 == pytest.approx(0.037470, abs=1e-6)
    assert chart.values[[0, 3, 5]] == pytest.approx([0.02, 0.15, 0.06])
    assert np.isnan(chart.values[4]) and np.isnan(chart.ucl[4])  # empty subgroup
    assert chart.signals[1].tolist() == [False, False, False, True, False, False]
    assert chart.out_of_control[3] and not chart.out_of_control[4]
    assert not chart.alarm  # the newest subgroup with parts (1000 parts, 6 %) is in control


def test_p_chart_of_a_yield_series(two_days: Engine) -> None:
    series = yield_series(two_days, MAY4, MAY6, bucket="day")
    chart = p_chart(series.defective, series.inspected)
    assert chart.centre == pytest.approx(4 / 12)
    assert chart.n.tolist() == [9, 3]


@pytest.mark.parametrize(
    ("z", "rule", "flagged"),
    [
        ([3.1, -3.5, 2.9, np.nan], 1, [True, True, False, False]),
        ([0.0, 2.5, -0.5, 2.1, 0.0], 2, [False, False, False, True, False]),
        ([-2.5, -2.2, 2.5], 2, [False, True, False]),
        ([2.5, -2.2, 1.9], 2, [False, False, False]),  # beyond 2σ, but not on one side
        ([1.5, 1.2, 0.2, 1.1, 1.3, 0.0], 3, [False, False, False, False, True, False]),
        ([0.1] * 8 + [-0.1] + [0.2] * 3, 4, [False] * 7 + [True] + [False] * 4),
        ([0.1] * 4 + [np.nan] + [0.1] * 4, 4, [False] * 8 + [True]),
        ([0.1] * 7 + [0.0] + [0.1], 4, [False] * 9),  # a point on the centre breaks the run
    ],
)
def test_western_electric_rules(z: list[float], rule: int, flagged: list[bool]) -> None:
    assert western_electric(z, [rule])[rule].tolist() == flagged


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="numbered 1 to 4"):
        western_electric([0.0], [5])


def test_mean_chart_by_hand() -> None:
    # centre = Σn·x̄/Σn = (4 + 8 + 40 + 4)/28 = 2; u = (x̄ − 2)·√n = [-2, 0, 2, -2];
    # mean moving range = (2 + 2 + 4)/3; σ_u = 8/3/1.128 = 2.364066; σ_i = σ_u/√n_i.
    chart = mean_chart([4, 4, 16, 0, 4], [1.0, 2.0, 2.5, 99.0, 1.0])
    assert chart.centre == pytest.approx(2.0)
    assert chart.sigma[[0, 2]] == pytest.approx([1.182033, 0.591017], abs=1e-6)
    assert chart.ucl[2] == pytest.approx(2 + 3 * 0.591017, abs=1e-5)
    assert np.isnan(chart.values[3])
    assert not chart.out_of_control.any()


def test_mean_chart_limits_come_from_the_baseline() -> None:
    # Baseline: first two subgroups. centre 1.5; u = [-1, 1]; σ_u = 2/1.128 = 1.773050;
    # for n = 16: σ = 0.443262, UCL = 1.5 + 1.329787 = 2.829787 < 3.0 → rule 1.
    baseline = np.array([True, True, False, False, False])
    chart = mean_chart([4, 4, 16, 0, 4], [1.0, 2.0, 3.0, 0.0, 1.0], baseline=baseline)
    assert chart.centre == pytest.approx(1.5)
    assert chart.ucl[2] == pytest.approx(2.829787, abs=1e-6)
    assert chart.signals[1].tolist() == [False, False, True, False, False]
    assert not chart.alarm  # the newest subgroup (mean 1.0) is back in control
    with pytest.raises(ValueError, match="at least two baseline subgroups"):
        mean_chart([4, 4], [1.0, 2.0], baseline=np.array([True, False]))


def test_score_drift_raises_the_alarm_when_good_parts_score_higher(engine: Engine) -> None:
    start = _at(4, 6)
    means = [0.30, 0.31] * 4 + [0.40] * 4  # eight normal shifts, then a lamp fails
    for shift, mean in enumerate(means):
        for k, offset in enumerate((-0.01, 0.01, -0.02, 0.02)):
            when = start + timedelta(hours=8 * shift + k)
            _add(engine, when, A, score=round(mean + offset, 4))
        _add(engine, start + timedelta(hours=8 * shift + 5), R, score=0.95)  # not a good part
    _add(engine, start + timedelta(hours=1.5), A, score=None)  # unscored: left out
    _add(engine, start + timedelta(hours=2), A, score=0.9, station="line-2")
    drift = score_drift(
        engine,
        start,
        start + timedelta(hours=8 * len(means)),
        baseline_end=start + timedelta(hours=64),
        station="line-1",
    )
    chart = drift.chart
    # centre 0.305; u = ±0.005·2; mean moving range 0.02; σ_u = 0.02/1.128; σ = σ_u/2.
    assert chart.n.tolist() == [4] * 12
    assert chart.centre == pytest.approx(0.305)
    assert chart.ucl[0] == pytest.approx(0.305 + 3 * 0.0088652, abs=1e-6)
    assert chart.values[:3] == pytest.approx([0.30, 0.31, 0.30])
    assert chart.out_of_control.tolist() == [False] * 8 + [True] * 4
    assert chart.alarm
    assert drift.buckets.labels[8] == "2026-05-06 shift 3"


def test_lighting_drift_raises_the_alarm_when_the_lamp_dims(engine: Engine) -> None:
    start = _at(4, 6)
    means = [120.0, 121.0] * 4 + [110.0] * 4  # eight normal shifts, then the lamp dims
    for shift, mean in enumerate(means):
        for k, offset in enumerate((-1.0, 1.0, -2.0, 2.0)):
            when = start + timedelta(hours=8 * shift + k)
            verdict = R if k == 0 else A  # every part counts, whatever its verdict
            _add(engine, when, verdict, grey_mean=mean + offset)
    _add(engine, start + timedelta(hours=1.5), A)  # recorded before lighting was stored
    _add(engine, start + timedelta(hours=2), A, station="line-2", grey_mean=30.0)
    drift = lighting_drift(
        engine,
        start,
        start + timedelta(hours=8 * len(means)),
        baseline_end=start + timedelta(hours=64),
        station="line-1",
    )
    chart = drift.chart
    # centre 120.5; u = ±0.5·2; mean moving range 2; σ_u = 2/1.128; σ = σ_u/2.
    assert chart.n.tolist() == [4] * 12
    assert chart.centre == pytest.approx(120.5)
    assert chart.lcl[0] == pytest.approx(120.5 - 3 * 0.886525, abs=1e-5)
    assert chart.values[:3] == pytest.approx([120.0, 121.0, 120.0])
    assert chart.out_of_control.tolist() == [False] * 8 + [True] * 4
    assert chart.alarm
    everywhere = lighting_drift(engine, start, start + timedelta(hours=8 * len(means)))
    assert everywhere.chart.n[0] == 5  # line-2's part joins; the unmeasured one never does


def test_pareto_of_defect_classes_by_hand(engine: Engine) -> None:
    _add(engine, _at(4, 1), R, kinds=("scratch", "scratch", "dent"))
    _add(engine, _at(4, 2), R, kinds=("dent",))
    _add(engine, _at(4, 3), R, kinds=("crack",), station="line-2")
    _add(engine, _at(4, 4), V)
    _add(engine, _at(4, 5), A, kinds=("stain",))  # not a reason a part left the line
    _add(engine, _at(6, 1), R, kinds=("burr",))  # after the range
    pareto = defect_pareto(engine, MAY4, MAY6)
    assert pareto.classes == ("dent", "scratch", "crack")  # ties by name
    assert pareto.defects.tolist() == [2, 2, 1]
    assert pareto.parts.tolist() == [2, 1, 1]
    assert pareto.cumulative_percent == pytest.approx([40.0, 80.0, 100.0])
    station = defect_pareto(engine, MAY4, MAY6, station="line-1")
    assert station.classes == ("dent", "scratch")
    empty = defect_pareto(engine, MAY6, MAY6 + timedelta(hours=1))
    assert empty.classes == () and empty.cumulative_percent.size == 0


def test_review_confusion_by_hand(engine: Engine) -> None:
    def reviewed(verdict: Verdict, *decisions: dict[str, str], day: int = 4) -> None:
        part = _add(engine, _at(day, 2), verdict)
        for decision in decisions:
            add_review(engine, part, reviewer="qa", **decision)  # type: ignore[arg-type]

    reviewed(A, {"decision": "confirm"})
    reviewed(A, {"decision": "reclassify", "defect_class": "dent"})  # an escape
    reviewed(R, {"decision": "confirm", "defect_class": "crack"})
    reviewed(R, {"decision": "false_reject"})
    reviewed(R, {"decision": "reclassify", "defect_class": "dent"})
    reviewed(V, {"decision": "false_reject"}, {"decision": "confirm", "defect_class": "dent"})
    reviewed(V, {"decision": "false_reject"})
    reviewed(R, {"decision": "false_reject"}, day=7)  # after the range
    _add(engine, _at(4, 3), R)  # not reviewed
    confusion = review_confusion(engine, MAY4, MAY6)
    assert confusion.matrix.tolist() == [[1, 1], [1, 2], [1, 1]]
    assert (confusion.escapes, confusion.false_rejects, confusion.reclassified) == (1, 2, 1)
    assert confusion.escape_rate == pytest.approx(1 / 2)
    assert confusion.false_reject_rate == pytest.approx(2 / 5)
    assert np.isnan(review_confusion(engine, MAY6, MAY6 + timedelta(days=1)).escape_rate)


@pytest.mark.parametrize(
    ("start", "end", "bucket", "message"),
    [
        (datetime(2026, 5, 4), MAY6, "day", "timezone-aware"),
        (MAY6, MAY4, "day", "must be before its end"),
        (MAY4, MAY6, "week", "unknown bucket 'week'"),
    ],
)
def test_bad_report_ranges_are_refused(
    engine: Engine, start: datetime, end: datetime, bucket: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        yield_series(engine, start, end, bucket=bucket)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("defective", "inspected", "message"),
    [
        ([1, 2], [10], "equally long"),
        ([11], [10], "0 <= defective <= inspected"),
        ([0, 0], [0, 0], "at least one subgroup with parts"),
    ],
)
def test_bad_p_chart_input_is_refused(
    defective: list[int], inspected: list[int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        p_chart(defective, inspected)


def test_shift_calendar_refuses_unordered_starts() -> None:
    with pytest.raises(ValueError, match="distinct and ascending"):
        ShiftCalendar(starts=(time(14), time(6)))
