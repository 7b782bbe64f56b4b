"""Quality reports: yield per hour/shift/day, p-chart, Pareto, review confusion, score and
lighting drift.

Counting happens in the database, per time bucket, from indexes that hold
every column the count needs (revision 0002), so a month of a million parts is
summed without reading a single row; numpy does the statistics on the few
hundred numbers that come back. Buckets are cut in the plant's time zone
(:class:`inspector.core.shifts.ShiftCalendar`), daylight-saving changes
included, and passed to the query as a table of time ranges, so shift starts
such as 05:30 need no SQL date arithmetic and the same query runs on SQLite
and PostgreSQL.

Control charts follow the textbook (Montgomery, *Introduction to Statistical
Quality Control*): a p-chart with limits per subgroup size, and the Western
Electric rules on the standardised distance of each point from the centre.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import ColumnElement, Engine, Integer, column, func, select, values

from inspector.core.shifts import ShiftCalendar
from inspector.core.verdict import Verdict
from inspector.storage.reviews import ReviewDecision, part_is_good, review_counts
from inspector.storage.schema import DefectRow, InspectionRow, UTCDateTime

_INSPECTIONS = InspectionRow.__table__
_DEFECTS = DefectRow.__table__
Bucket = Literal["hour", "shift", "day"]
ALL_RULES = (1, 2, 3, 4)
_BUCKETS_PER_QUERY = 400  # three bind parameters each: far below any database's limit
_D2 = 1.128  # d2 for moving ranges of two: sigma = mean moving range / d2


@dataclass(frozen=True, eq=False)
class Buckets:
    """Consecutive time ranges ``[starts[i], ends[i])`` in the calendar's zone, with labels."""

    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class YieldSeries:
    """Parts per verdict per bucket; REVIEW parts go to the reject bin, so count as defective."""

    buckets: Buckets
    accepted: np.ndarray
    rejected: np.ndarray
    review: np.ndarray

    @property
    def inspected(self) -> np.ndarray:
        """Parts recorded per bucket."""
        return self.accepted + self.rejected + self.review

    @property
    def defective(self) -> np.ndarray:
        """Parts not accepted (rejected or sent to review) per bucket."""
        return self.rejected + self.review

    @property
    def yield_fraction(self) -> np.ndarray:
        """Accepted / inspected per bucket; NaN for a bucket without parts."""
        return _ratio(self.accepted, self.inspected)

    @property
    def defect_rate(self) -> np.ndarray:
        """Defective / inspected per bucket; NaN for a bucket without parts."""
        return _ratio(self.defective, self.inspected)


@dataclass(frozen=True, eq=False)
class ControlChart:
    """One statistic per subgroup against a centre line and 3-sigma limits.

    ``signals`` maps a Western Electric rule number to the points it flags;
    empty subgroups (``n == 0``) have NaN values and limits and are never flagged.
    """

    values: np.ndarray
    n: np.ndarray
    centre: float
    sigma: np.ndarray
    lcl: np.ndarray
    ucl: np.ndarray
    signals: Mapping[int, np.ndarray]

    @property
    def out_of_control(self) -> np.ndarray:
        """Points flagged by any of the rules applied."""
        flagged = np.zeros(self.values.shape, dtype=bool)
        for points in self.signals.values():
            flagged |= points
        return flagged

    @property
    def alarm(self) -> bool:
        """Whether the newest subgroup with data is flagged: what a live display raises."""
        filled = np.flatnonzero(self.n > 0)
        return bool(filled.size and self.out_of_control[filled[-1]])


@dataclass(frozen=True, eq=False)
class MeanDrift:
    """A mean per bucket (good parts' anomaly score, parts' brightness) as a control chart."""

    buckets: Buckets
    chart: ControlChart


@dataclass(frozen=True, eq=False)
class Pareto:
    """Defect classes, most frequent first: defect regions, parts with that class, cumulative %."""

    classes: tuple[str, ...]
    defects: np.ndarray
    parts: np.ndarray

    @property
    def cumulative_percent(self) -> np.ndarray:
        """Running share of all defects, in percent (ends at 100)."""
        total = self.defects.sum()
        return 100.0 * np.cumsum(self.defects) / total if total else np.zeros(0)


VERDICT_ROWS = (Verdict.ACCEPT, Verdict.REJECT, Verdict.REVIEW)


@dataclass(frozen=True, eq=False)
class ReviewConfusion:
    """Machine verdict against the reviewer's judgement, over reviewed parts only.

    ``matrix[i, j]``: parts with verdict ``VERDICT_ROWS[i]`` judged good (``j = 0``)
    or defective (``j = 1``). Rates are over *reviewed* parts of each verdict: rejects
    are usually all reviewed while accepts are sampled, so the escape rate estimates
    the line's only if the audit sample of accepted parts is random.
    """

    matrix: np.ndarray
    reclassified: int

    @property
    def escapes(self) -> int:
        """Accepted parts a reviewer found defective."""
        return int(self.matrix[0, 1])

    @property
    def false_rejects(self) -> int:
        """Rejected or REVIEW parts a reviewer found good."""
        return int(self.matrix[1:, 0].sum())

    @property
    def escape_rate(self) -> float:
        """Escapes / reviewed accepted parts (NaN when none were reviewed)."""
        return float(_ratio(np.array(self.escapes), np.array(self.matrix[0].sum())))

    @property
    def false_reject_rate(self) -> float:
        """False rejects / reviewed rejected and REVIEW parts (NaN when none)."""
        return float(_ratio(np.array(self.false_rejects), np.array(self.matrix[1:].sum())))


def time_buckets(
    start: datetime, end: datetime, bucket: Bucket, calendar: ShiftCalendar | None = None
) -> Buckets:
    """Cut ``[start, end)`` at every local hour, shift start or midnight.

    The first and last bucket may be partial. A boundary in the hour repeated
    when clocks go back is taken once (its first occurrence); one that falls in
    the hour skipped when clocks go forward moves to the change itself, so a
    day or shift that starts at a midnight that never happens (Santiago,
    Cairo, Beirut, Havana) still gets its own bucket.
    """
    calendar = calendar or ShiftCalendar()
    _check_range(start, end)
    tz = calendar.tz
    day_times = {
        "hour": tuple(time(h) for h in range(24)),
        "shift": calendar.starts,
        "day": (time(0),),
    }.get(bucket)
    if day_times is None:
        msg = f"unknown bucket {bucket!r}; use 'hour', 'shift' or 'day'"
        raise ValueError(msg)
    edges = {start.astimezone(UTC), end.astimezone(UTC)}
    day = start.astimezone(tz).date() - timedelta(days=1)
    while day <= end.astimezone(tz).date():
        for wall_time in day_times:
            instant = _first_instant_at_or_after(datetime.combine(day, wall_time, tzinfo=tz))
            if start < instant < end:
                edges.add(instant)
        day += timedelta(days=1)
    cuts = [t.astimezone(tz) for t in sorted(edges)]
    labels = tuple(_label(t, bucket, calendar) for t in cuts[:-1])
    return Buckets(starts=tuple(cuts[:-1]), ends=tuple(cuts[1:]), labels=labels)


def yield_series(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    bucket: Bucket = "day",
    calendar: ShiftCalendar | None = None,
    station: str | None = None,
) -> YieldSeries:
    """Accepted, rejected and REVIEW parts per hour, shift or day of ``[start, end)``."""
    buckets = time_buckets(start, end, bucket, calendar)
    c = _INSPECTIONS.c
    where = [] if station is None else [c.station == station]
    counts = _per_bucket(
        engine,
        buckets,
        [
            (func.count(), [*where, c.verdict == verdict.value])
            for verdict in (Verdict.ACCEPT, Verdict.REJECT, Verdict.REVIEW)
        ],
    )
    accepted, rejected, review = (np.nan_to_num(a).astype(np.int64) for a in counts)
    return YieldSeries(buckets=buckets, accepted=accepted, rejected=rejected, review=review)


def p_chart(
    defective: Sequence[int] | np.ndarray, inspected: Sequence[int] | np.ndarray
) -> ControlChart:
    """p-chart of the defective fraction, with limits for each subgroup's own size.

    Centre ``p̄ = Σd / Σn``; limits ``p̄ ± 3·sqrt(p̄(1 − p̄)/n_i)``, clipped to [0, 1].
    All four Western Electric rules are applied.

    Raises:
        ValueError: the arrays differ in length, hold negative counts, more
            defective than inspected parts, or no parts at all.
    """
    d = np.asarray(defective, dtype=float)
    n = np.asarray(inspected, dtype=float)
    if d.shape != n.shape or d.ndim != 1 or (d < 0).any() or (d > n).any():
        msg = "p_chart needs two equally long 1-D count arrays with 0 <= defective <= inspected"
        raise ValueError(msg)
    if n.sum() == 0:
        msg = "p_chart needs at least one subgroup with parts; widen the time range"
        raise ValueError(msg)
    centre = d.sum() / n.sum()
    sigma = np.sqrt(centre * (1 - centre) / np.where(n > 0, n, np.nan))
    p = _ratio(d, n)
    z = _standardise(p - centre, sigma)
    return ControlChart(
        values=p,
        n=n.astype(np.int64),
        centre=float(centre),
        sigma=sigma,
        lcl=np.clip(centre - 3 * sigma, 0.0, 1.0),
        ucl=np.clip(centre + 3 * sigma, 0.0, 1.0),
        signals=western_electric(z, ALL_RULES),
    )


def mean_chart(
    n: Sequence[int] | np.ndarray,
    mean: Sequence[float] | np.ndarray,
    *,
    baseline: np.ndarray | None = None,
    rules: Sequence[int] = (1, 4),
) -> ControlChart:
    """Chart of subgroup means of unequal size, with limits from how much the means vary.

    The textbook X̄ chart takes sigma from the spread *within* subgroups; with
    thousands of parts per shift its limits become so tight that the ordinary
    differences between shifts (a lamp warming up, a new lot) alarm every
    shift. Charting the means against their own shift-to-shift variation is
    the usual remedy (an individuals chart of the means), and weighting by
    ``√n`` keeps it right for shifts of unequal output (Laney, 2002):

    ``u_i = (x̄_i − centre)·√n_i``, ``σ_u = mean |u_i − u_(i−1)| / 1.128``,
    limits ``centre ± 3·σ_u/√n_i``, with ``centre = Σ n_i x̄_i / Σ n_i``.

    Args:
        n: Parts per subgroup (0 for an empty one).
        mean: Mean per subgroup (ignored where ``n == 0``).
        baseline: Subgroups that define normal (centre and σ_u); all by default.
            Use a period known to be good so that a drift cannot hide in it.
        rules: Western Electric rules to apply; rule 1 (a point beyond 3σ) and
            rule 4 (eight in a row on one side) catch a sudden and a gradual shift.

    Raises:
        ValueError: fewer than two baseline subgroups have parts.
    """
    n = np.asarray(n, dtype=float)
    mean = np.where(n > 0, np.asarray(mean, dtype=float), np.nan)
    base = np.ones(n.shape, dtype=bool) if baseline is None else np.asarray(baseline, dtype=bool)
    filled = base & (n > 0)
    if filled.sum() < 2:
        msg = "a chart of means needs at least two baseline subgroups with parts; widen the range"
        raise ValueError(msg)
    centre = float((n[filled] * mean[filled]).sum() / n[filled].sum())
    u = (mean - centre) * np.sqrt(n)
    sigma_u = float(np.abs(np.diff(u[filled])).mean()) / _D2
    sigma = sigma_u / np.sqrt(np.where(n > 0, n, np.nan))
    return ControlChart(
        values=mean,
        n=n.astype(np.int64),
        centre=centre,
        sigma=sigma,
        lcl=centre - 3 * sigma,
        ucl=centre + 3 * sigma,
        signals=western_electric(_standardise(mean - centre, sigma), rules),
    )


def score_drift(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    bucket: Bucket = "shift",
    calendar: ShiftCalendar | None = None,
    station: str | None = None,
    baseline_end: datetime | None = None,
    rules: Sequence[int] = (1, 4),
) -> MeanDrift:
    """Control chart of the mean anomaly score of accepted parts per shift (or hour, day).

    Good parts' scores move before rejects climb when lighting ages, a camera
    is knocked or a new batch of material arrives: this chart shows that
    early. Buckets starting before ``baseline_end`` define normal (all by default).
    """
    c = _INSPECTIONS.c
    where = [c.verdict == Verdict.ACCEPT.value, c.score.is_not(None)]
    buckets = time_buckets(start, end, bucket, calendar)
    return _mean_drift(engine, buckets, c.score, where, station, baseline_end, rules)


def lighting_drift(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    bucket: Bucket = "shift",
    calendar: ShiftCalendar | None = None,
    station: str | None = None,
    baseline_end: datetime | None = None,
    rules: Sequence[int] = (1, 4),
) -> MeanDrift:
    """Control chart of the mean grey level of every measured part per shift (or hour, day).

    A model that standardises exposure (the default) scores a dimming lamp as if
    nothing changed, so the score drift cannot show it; this chart does, long
    before frames leave the model's taught range (:mod:`inspector.ml.lighting`).
    Parts recorded before their lighting was stored (schema 0008) are left out.
    Buckets starting before ``baseline_end`` define normal (all by default).
    """
    c = _INSPECTIONS.c
    buckets = time_buckets(start, end, bucket, calendar)
    where = [c.grey_mean.is_not(None)]
    return _mean_drift(engine, buckets, c.grey_mean, where, station, baseline_end, rules)


def _mean_drift(
    engine: Engine,
    buckets: Buckets,
    measure: ColumnElement[float],
    where: list[ColumnElement[bool]],
    station: str | None,
    baseline_end: datetime | None,
    rules: Sequence[int],
) -> MeanDrift:
    """:func:`mean_chart` of ``measure`` over the rows matching ``where``, per bucket."""
    if station is not None:
        where = [*where, _INSPECTIONS.c.station == station]
    n, total = _per_bucket(engine, buckets, [(func.count(), where), (func.sum(measure), where)])
    n = np.nan_to_num(n)
    baseline = None
    if baseline_end is not None:
        baseline = np.array([s < baseline_end for s in buckets.starts], dtype=bool)
    chart = mean_chart(n, _ratio(total, n), baseline=baseline, rules=rules)
    return MeanDrift(buckets=buckets, chart=chart)


def defect_pareto(
    engine: Engine, start: datetime, end: datetime, *, station: str | None = None
) -> Pareto:
    """Why parts captured in ``[start, end)`` were rejected: defect classes, most frequent first.

    Counts the machine's classes on rejected and REVIEW parts; the reviewers'
    corrections are in :func:`review_confusion`.
    """
    _check_range(start, end)
    c = _INSPECTIONS.c
    # Start from the parts that left the line in the range (an index range) and
    # look up their defects: reading every defect ever recorded and checking
    # each one's date would make a one-day Pareto as slow as a year's.
    parts = select(c.id).where(
        c.verdict.in_([Verdict.REJECT.value, Verdict.REVIEW.value]),
        c.captured_at >= start,
        c.captured_at < end,
    )
    if station is not None:
        parts = parts.where(c.station == station)
    statement = (
        select(_DEFECTS.c.kind, func.count(), func.count(_DEFECTS.c.inspection_id.distinct()))
        .where(_DEFECTS.c.inspection_id.in_(parts))
        .group_by(_DEFECTS.c.kind)
    )
    with engine.connect() as connection:
        rows = sorted(connection.execute(statement), key=lambda r: (-r[1], r[0]))
    return Pareto(
        classes=tuple(r[0] for r in rows),
        defects=np.array([r[1] for r in rows], dtype=np.int64),
        parts=np.array([r[2] for r in rows], dtype=np.int64),
    )


def review_confusion(
    engine: Engine,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    station: str | None = None,
) -> ReviewConfusion:
    """Escapes and false rejects among parts captured in ``[start, end)`` that were reviewed."""
    matrix = np.zeros((len(VERDICT_ROWS), 2), dtype=np.int64)
    reclassified = 0
    for (verdict, decision), count in review_counts(engine, start, end, station=station).items():
        matrix[VERDICT_ROWS.index(verdict), 0 if part_is_good(verdict, decision) else 1] += count
        if decision is ReviewDecision.RECLASSIFY and verdict is not Verdict.ACCEPT:
            reclassified += count
    return ReviewConfusion(matrix=matrix, reclassified=reclassified)


def western_electric(
    z: Sequence[float] | np.ndarray, rules: Sequence[int] = ALL_RULES
) -> dict[int, np.ndarray]:
    """Flag points of a standardised series (distance from centre in sigmas).

    1: beyond 3σ. 2: two of three in a row beyond 2σ on one side. 3: four of
    five beyond 1σ on one side. 4: eight in a row on one side of the centre.
    A rule flags the point that completes its pattern (and is itself on that
    side). NaN points (empty subgroups) are skipped, neither breaking nor
    extending a run.
    """
    z = np.asarray(z, dtype=float)
    valid = ~np.isnan(z)
    x = z[valid]
    found: dict[int, np.ndarray] = {}
    for rule in rules:
        if rule == 1:
            flags = np.abs(x) > 3
        elif rule in (2, 3):
            limit, of, needed = (2, 3, 2) if rule == 2 else (1, 5, 4)
            flags = np.zeros(x.shape, dtype=bool)
            for side in (x, -x):
                beyond = side > limit
                in_window = np.convolve(beyond, np.ones(of, dtype=int))[: x.size]
                flags |= beyond & (in_window >= needed)
        elif rule == 4:
            flags = _run_length(np.sign(x)) >= 8
        else:
            msg = f"Western Electric rules are numbered 1 to 4, got {rule}"
            raise ValueError(msg)
        full = np.zeros(z.shape, dtype=bool)
        full[valid] = flags
        found[rule] = full
    return found


def _run_length(side: np.ndarray) -> np.ndarray:
    """For each point, how many points in a row up to it lie on the same (non-zero) side."""
    runs = np.zeros(side.shape, dtype=int)
    for i, s in enumerate(side):
        runs[i] = 0 if s == 0 else (runs[i - 1] + 1 if i and side[i - 1] == s else 1)
    return runs


def _per_bucket(
    engine: Engine,
    buckets: Buckets,
    aggregates: Sequence[tuple[Any, Sequence[ColumnElement[bool]]]],
) -> list[np.ndarray]:
    """One aggregate per (expression, conditions) over the inspections of each bucket.

    Each aggregate is a scalar subquery correlated to a table of bucket
    ranges, i.e. one index range scan per bucket: counting inside an index
    range is much faster than grouping a million rows by a computed bucket.
    """
    c = _INSPECTIONS.c
    results = np.full((len(aggregates), len(buckets.starts)), np.nan)
    for first in range(0, len(buckets.starts), _BUCKETS_PER_QUERY):
        chunk = range(first, min(first + _BUCKETS_PER_QUERY, len(buckets.starts)))
        ranges = (
            values(
                column("idx", Integer),
                column("lo", UTCDateTime()),
                column("hi", UTCDateTime()),
                name="buckets",
            )
            .data([(i, buckets.starts[i], buckets.ends[i]) for i in chunk])
            .cte()
        )
        columns = [
            select(expression)
            .select_from(_INSPECTIONS)
            .where(c.captured_at >= ranges.c.lo, c.captured_at < ranges.c.hi, *conditions)
            .scalar_subquery()
            for expression, conditions in aggregates
        ]
        with engine.connect() as connection:
            for idx, *row in connection.execute(select(ranges.c.idx, *columns)):
                results[:, idx] = [np.nan if v is None else float(v) for v in row]
    return list(results)


def _first_instant_at_or_after(wall: datetime) -> datetime:
    """The UTC instant of a local wall time, or of the clock change that skips it.

    A time inside the hour skipped when clocks go forward never shows on the
    clock; the bucket it starts begins when the clock jumps past it. The
    change lies between the two readings of the gap (``fold`` 1 and 0), and
    is found by halving that interval in whole seconds (clocks change on a
    whole second, so the cut lands exactly on it).
    """
    instant = wall.astimezone(UTC)
    if _wall_clock(instant, wall) == wall.replace(tzinfo=None):
        return instant
    before, after = wall.replace(fold=1).astimezone(UTC), wall.replace(fold=0).astimezone(UTC)
    while after - before > timedelta(seconds=1):
        middle = before + timedelta(seconds=(after - before) // timedelta(seconds=2))
        if _wall_clock(middle, wall) < wall.replace(tzinfo=None):
            before = middle
        else:
            after = middle
    return after


def _wall_clock(instant: datetime, like: datetime) -> datetime:
    """What a clock in ``like``'s zone shows at ``instant``, without the zone."""
    return instant.astimezone(like.tzinfo).replace(tzinfo=None)


def _label(start: datetime, bucket: str, calendar: ShiftCalendar) -> str:
    if bucket == "day":
        return f"{start:%Y-%m-%d}"
    if bucket == "hour":
        return f"{start:%Y-%m-%d %H:%M}"
    return calendar.shift_label(start)


def _check_range(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        msg = "report ranges need timezone-aware start and end (e.g. tzinfo=UTC)"
        raise ValueError(msg)
    if start >= end:
        msg = f"report range start ({start}) must be before its end ({end})"
        raise ValueError(msg)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _standardise(distance: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """distance / sigma; 0 where both are 0 (a constant series), ±inf where only sigma is."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = distance / sigma
    return np.where((sigma == 0) & (distance == 0), 0.0, z)
