"""Everything the quality report of one time range shows, computed once.

The Reports tab and the PDF report show the same figures; computing them in
one place means the screen a QA engineer checked and the page filed in the
quality record can never disagree. Charts that cannot be drawn for the range
(no parts at all, fewer than two baseline shifts with good parts) are ``None``
with the reason in ``notes``, rather than an exception that would hide the other charts.

The drift charts (good parts' score, parts' lighting) take the first half of
the range as their baseline (what normal looks like): a shift that is part of
the baseline widens the limits and hides itself, so a report range should
start in a period known to be good.

Time is cut in the plant's zone with its named shifts (the station file's
``[reports]`` table, :mod:`inspector.pipeline.report_settings`); without one,
this computer's own zone with its daylight-saving rules, never a fixed UTC
offset. The report keeps the calendar it was cut with, so whatever shows it
(screen, PDF) prints times and shift names the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from inspector.core.shifts import ShiftCalendar, local_zone
from inspector.reports.quality import (
    Bucket,
    ControlChart,
    MeanDrift,
    Pareto,
    ReviewConfusion,
    YieldSeries,
    defect_pareto,
    lighting_drift,
    p_chart,
    review_confusion,
    score_drift,
    yield_series,
)


@dataclass(frozen=True)
class Summary:
    """The headline figures of a period, as the summary table shows them."""

    parts: int
    accepted: int
    rejected: int
    review: int
    reviewed: int
    escapes: int
    false_rejects: int
    reclassified: int

    @property
    def yield_percent(self) -> float | None:
        """Accepted parts in percent of all parts; ``None`` without parts."""
        return 100.0 * self.accepted / self.parts if self.parts else None

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs, formatted the same on screen and on paper."""
        yield_text = "–" if self.yield_percent is None else f"{self.yield_percent:.2f} %"
        return [
            ("Parts inspected", f"{self.parts:,}"),
            ("Accepted", f"{self.accepted:,}"),
            ("Yield", yield_text),
            ("Rejected", f"{self.rejected:,}"),
            ("Sent to review", f"{self.review:,}"),
            ("Reviewed parts", f"{self.reviewed:,}"),
            ("Escapes (accepted, found defective)", f"{self.escapes:,}"),
            ("False rejects (rejected, found good)", f"{self.false_rejects:,}"),
            ("Reclassified defects", f"{self.reclassified:,}"),
        ]


@dataclass(frozen=True)
class ShiftYield:
    """Parts and yield of one named shift, summed over every day of the period."""

    name: str
    parts: int
    accepted: int

    @property
    def yield_percent(self) -> float | None:
        """Accepted parts in percent of the shift's parts; ``None`` without parts."""
        return 100.0 * self.accepted / self.parts if self.parts else None


@dataclass(frozen=True, eq=False)
class PeriodReport:
    """Yield, control charts, Pareto and review confusion of ``[start, end)``.

    ``calendar`` is the time zone and shifts the buckets were cut with;
    ``per_shift`` compares the named shifts (early vs. late vs. night) over the
    whole period, in the calendar's order.
    """

    start: datetime
    end: datetime
    bucket: Bucket
    calendar: ShiftCalendar
    station: str | None
    summary: Summary
    per_shift: tuple[ShiftYield, ...]
    series: YieldSeries
    p: ControlChart | None
    pareto: Pareto
    drift: MeanDrift | None
    baseline_end: datetime
    lighting: MeanDrift | None
    confusion: ReviewConfusion
    notes: tuple[str, ...]


def period_report(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    bucket: Bucket = "shift",
    calendar: ShiftCalendar | None = None,
    station: str | None = None,
) -> PeriodReport:
    """Compute the report of ``[start, end)`` (timezone-aware) from the database.

    Args:
        engine: From :func:`inspector.storage.engine.open_database`.
        start: First instant of the period.
        end: End of the period, excluded.
        bucket: ``"hour"``, ``"shift"`` or ``"day"`` for the series and charts.
        calendar: The plant's zone and shifts; this computer's zone and
            06/14/22 h shifts by default.
        station: Only this station; all by default.

    Raises:
        ValueError: the range is empty, reversed or has no time zone.
    """
    calendar = calendar or ShiftCalendar(tz=local_zone())
    series = yield_series(engine, start, end, bucket=bucket, calendar=calendar, station=station)
    shifts = series
    if bucket != "shift":  # the comparison of named shifts needs shift buckets
        shifts = yield_series(
            engine, start, end, bucket="shift", calendar=calendar, station=station
        )
    notes: list[str] = []
    p = None
    if series.inspected.sum() > 0:
        p = p_chart(series.defective, series.inspected)
    else:
        notes.append("No parts were inspected in this period.")
    # A drift inside the baseline would widen the limits and hide itself: the first
    # half of the range defines normal, so a range should start in a known-good period.
    baseline_end = start + (end - start) / 2

    def charted(chart: Callable[..., MeanDrift], needs: str) -> MeanDrift | None:
        """``chart`` of the range, or ``None`` with ``needs`` in the notes."""
        try:
            return chart(
                engine,
                start,
                end,
                bucket=bucket,
                calendar=calendar,
                station=station,
                baseline_end=baseline_end,
            )
        except ValueError:
            notes.append(needs)
            return None

    baseline_words = _baseline_needs(bucket, baseline_end.astimezone(calendar.tz))
    drift = charted(score_drift, f"Score drift needs good parts {baseline_words}")
    lighting = charted(lighting_drift, f"The lighting chart needs measured parts {baseline_words}")
    confusion = review_confusion(engine, start, end, station=station)
    summary = Summary(
        parts=int(series.inspected.sum()),
        accepted=int(series.accepted.sum()),
        rejected=int(series.rejected.sum()),
        review=int(series.review.sum()),
        reviewed=int(confusion.matrix.sum()),
        escapes=confusion.escapes,
        false_rejects=confusion.false_rejects,
        reclassified=confusion.reclassified,
    )
    return PeriodReport(
        start=start,
        end=end,
        bucket=bucket,
        calendar=calendar,
        station=station,
        summary=summary,
        per_shift=shift_yields(shifts, calendar),
        series=series,
        p=p,
        pareto=defect_pareto(engine, start, end, station=station),
        drift=drift,
        baseline_end=baseline_end,
        lighting=lighting,
        confusion=confusion,
        notes=tuple(notes),
    )


def _baseline_needs(bucket: Bucket, baseline_end: datetime) -> str:
    """What a drift chart's baseline needs, in words: two filled buckets in the first half.

    Two days of parts are not enough for a day chart: only the first day starts
    in the first half of a two-day range, and normal is learnt from that half.
    """
    smaller = "" if bucket == "hour" else " or smaller buckets"
    return (
        f"in at least two {bucket}s starting before {baseline_end:%Y-%m-%d %H:%M} "
        f"(its baseline, the first half of the range): choose a longer range{smaller}."
    )


def shift_yields(series: YieldSeries, calendar: ShiftCalendar) -> tuple[ShiftYield, ...]:
    """Sum a per-shift series by shift name: each named shift over all days of the period.

    Args:
        series: Cut with ``bucket="shift"`` and this ``calendar``.
        calendar: Says which shift each bucket is.
    """
    parts = np.zeros(len(calendar.starts), np.int64)
    accepted = np.zeros(len(calendar.starts), np.int64)
    for i, bucket_start in enumerate(series.buckets.starts):
        _, index = calendar.shift_of(bucket_start)
        parts[index] += series.inspected[i]
        accepted[index] += series.accepted[i]
    return tuple(
        ShiftYield(calendar.name(i), int(parts[i]), int(accepted[i]))
        for i in range(len(calendar.starts))
    )
