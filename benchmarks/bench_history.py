"""QA workstation queries on a million records: history pages, yield series, Pareto.

Run: ``.venv/bin/python benchmarks/bench_history.py`` (``--parts`` to change the size,
``--rebuild`` to refill the cached database).

The database is filled once with synthetic inspections (30 days, two stations,
two cameras each, ~5 % rejects and reviews with one to three defects each, a
sample of reviews) using plain ``executemany`` in large transactions, and
cached under ``/tmp`` so that reruns measure the queries only. Every figure is
the median of several runs on a warm page cache, which is what a QA engineer
clicking through the GUI sees after the first screen. Targets from issue 6:
history page < 200 ms, daily yield for 30 days < 500 ms, Pareto for a month
< 500 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from inspector.core.verdict import Verdict
from inspector.reports.quality import (
    defect_pareto,
    lighting_drift,
    p_chart,
    review_confusion,
    score_drift,
    yield_series,
)
from inspector.storage.engine import open_database
from inspector.storage.history import HistoryCursor, HistoryFilter, count_history, history_page
from inspector.storage.repository import get_inspection
from inspector.storage.reviews import review_queue

END = datetime(2026, 5, 1, tzinfo=UTC)
DAYS = 30
CLASSES = ("scratch", "dent", "crack", "stain", "chip", "burr")
CLASS_WEIGHTS = np.array([40, 25, 15, 10, 6, 4]) / 100
FILL_VERSION = 2  # bump when the synthetic data changes, to refill cached files
CHUNK = 100_000


def _timestamps(seconds: np.ndarray) -> list[str]:
    """UTC text exactly as SQLAlchemy's SQLite DateTime stores it."""
    start = np.datetime64(END.replace(tzinfo=None) - timedelta(days=DAYS), "us")
    stamps = start + (seconds * 1e6).astype("timedelta64[us]")
    return [s.replace("T", " ") for s in np.datetime_as_string(stamps, unit="us")]


def fill(engine: Engine, parts: int, seed: int = 6) -> None:
    """Insert ``parts`` synthetic inspections with defects and reviews."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.uniform(0, DAYS * 86400, parts))
    day = (seconds // 86400).astype(int)
    station = rng.integers(0, 2, parts)
    camera = rng.integers(0, 2, parts)
    # Rejects run at ~3.5 %, with one bad day (a material batch) at 9 %.
    reject_p = np.where(day == 17, 0.09, 0.035)
    draw = rng.uniform(size=parts)
    verdict = np.where(draw < reject_p, 2, np.where(draw < reject_p + 0.015, 1, 0))
    # Good-part scores drift up over the last five days (a lamp ageing).
    score = rng.normal(0.30 + 0.03 * (day >= DAYS - 5), 0.04)
    score = np.where(verdict == 1, rng.uniform(0.45, 0.5, parts), score)
    score = np.where(verdict == 2, 0.5 + rng.exponential(0.2, parts), score)
    not_scored = (verdict == 2) & (rng.uniform(size=parts) < 0.01)
    # The same lamp dims by 5 % over those days: mean grey 120 -> 114 (spread 30).
    grey = rng.normal(120.0 - 6.0 * (day >= DAYS - 5), 2.0)
    stamps = _timestamps(seconds)
    verdict_names = np.array(["accept", "review", "reject"])[verdict]
    keep_image = (verdict > 0) | (np.arange(parts) % 50 == 0)
    rows = [
        (
            i + 1,
            stamps[i],
            f"line-{station[i] + 1}",
            f"cam{camera[i]}",
            i,
            verdict_names[i],
            None if not_scored[i] else float(score[i]),
            0.5,
            "patchcore-1.0.0" if day[i] < 20 else "patchcore-1.1.0",
            "rules-3",
            4.5,
            12.0,
            "not inspected: inference queue full" if not_scored[i] else None,
            f"{stamps[i][:10]}/part_{i:08d}.jpg" if keep_image[i] else None,
            float(grey[i]),
            30.0,
        )
        for i in range(parts)
    ]
    rejects = np.flatnonzero(verdict == 2)
    n_defects = rng.integers(1, 4, rejects.size)
    owner = np.repeat(rejects, n_defects) + 1
    kinds = rng.choice(len(CLASSES), owner.size, p=CLASS_WEIGHTS)
    defects = [
        (int(o), CLASSES[k], 0.9, 10, 12, 30, 20, 480) for o, k in zip(owner, kinds, strict=True)
    ]
    flagged = np.flatnonzero(verdict > 0)
    reviewed = flagged[rng.uniform(size=flagged.size) < 0.3]
    review_time = [stamps[i][:11] + "23:59:59.000000" for i in reviewed]
    reviews = [
        (
            int(i) + 1,
            "qa",
            t,
            "false_reject" if verdict[i] == 1 else "confirm",
            None if verdict[i] == 1 else "scratch",
        )
        for i, t in zip(reviewed, review_time, strict=True)
    ]
    with engine.begin() as connection:
        for start in range(0, len(rows), CHUNK):
            connection.exec_driver_sql(
                "INSERT INTO inspections (id, captured_at, station, camera_id, part_id, verdict, "
                "score, threshold, model_version, rules_version, inference_ms, latency_ms, error, "
                "image_path, grey_mean, grey_spread) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows[start : start + CHUNK],
            )
        connection.exec_driver_sql(
            "INSERT INTO defects (inspection_id, kind, confidence, x, y, w, h, area_px) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            defects,
        )
        connection.exec_driver_sql(
            "INSERT INTO reviews (inspection_id, reviewer, reviewed_at, decision, defect_class) "
            "VALUES (?, ?, ?, ?, ?)",
            reviews,
        )
        # What `PRAGMA optimize` does on a long-lived station database: row-count
        # statistics, so the planner knows that station and verdict are not selective.
        connection.exec_driver_sql("ANALYZE")


def cached_database(parts: int, rebuild: bool) -> tuple[Engine, float | None]:
    """Open the cached benchmark database, filling it first when needed."""
    path = Path("/tmp") / f"inspector_bench_history_{parts}_v{FILL_VERSION}.db"
    if rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    fresh = not path.exists()
    started = time.perf_counter()
    engine = open_database(path)
    if fresh:
        try:
            fill(engine, parts)
        except BaseException:
            engine.dispose()
            path.unlink(missing_ok=True)
            raise
        return engine, time.perf_counter() - started
    return engine, None


def median_ms(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs after one warm-up, and the last result."""
    result = action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="refill the cached database")
    args = parser.parse_args()

    engine, fill_s = cached_database(args.parts, args.rebuild)
    month = (END - timedelta(days=DAYS), END)
    week = HistoryFilter(start=END - timedelta(days=7), end=END)
    filters = {
        "newest, no filter": HistoryFilter(),
        "station + rejects/reviews + last 7 days": HistoryFilter(
            start=week.start,
            end=week.end,
            station="line-2",
            verdicts=frozenset({Verdict.REJECT, Verdict.REVIEW}),
        ),
        "class 'crack' + camera + not reviewed": HistoryFilter(
            camera_id="cam1", defect_class="crack", reviewed=False
        ),
        "model 1.1.0 + score 0.38..0.45": HistoryFilter(
            model_version="patchcore-1.1.0", score_min=0.38, score_max=0.45
        ),
    }
    figures: dict[str, Any] = {"parts": args.parts, "fill_s": fill_s}
    for name, filt in filters.items():
        first_ms, page = median_ms(lambda f=filt: history_page(engine, f), args.repeat)
        cursor = page.next_cursor
        for _ in range(50):  # walk 50 pages on, then time the 51st
            cursor = history_page(engine, filt, after=cursor).next_cursor
        deep_ms, _ = median_ms(lambda f=filt, c=cursor: history_page(engine, f, after=c), 3)
        by_score_ms, _ = median_ms(
            lambda f=filt: history_page(engine, f, sort="score"), args.repeat
        )
        count_ms, count = median_ms(lambda f=filt: count_history(engine, f), 3)
        figures[f"history: {name}"] = {
            "page_1_ms": round(first_ms, 1),
            "page_51_ms": round(deep_ms, 1),
            "page_1_by_score_ms": round(by_score_ms, 1),
            "count_ms": round(count_ms, 1),
            "matches": count,
        }
    # Page 5,000 of 10,000 without walking there: a cursor at the middle row.
    middle = get_inspection(engine, args.parts // 2)
    assert middle is not None and middle.score is not None
    for sort, value in (("captured_at", middle.captured_at), ("score", middle.score)):
        cursor = HistoryCursor(sort=sort, descending=True, value=value, id=middle.id)
        deep_ms, _ = median_ms(
            lambda s=sort, c=cursor: history_page(engine, HistoryFilter(), sort=s, after=c),
            args.repeat,
        )
        figures[f"history: page in the middle of 1M rows, by {sort} (ms)"] = round(deep_ms, 1)
    daily_ms, daily = median_ms(lambda: yield_series(engine, *month, bucket="day"), args.repeat)
    figures["yield per day, 30 days (ms)"] = round(daily_ms, 1)
    for bucket in ("shift", "hour"):
        bucket_ms, series = median_ms(
            lambda b=bucket: yield_series(engine, *month, bucket=b), args.repeat
        )
        figures[f"yield per {bucket}, 30 days (ms)"] = round(bucket_ms, 1)
    station_ms, _ = median_ms(
        lambda: yield_series(engine, *month, bucket="day", station="line-1"), args.repeat
    )
    figures["yield per day, one station, 30 days (ms)"] = round(station_ms, 1)
    shifts = yield_series(engine, *month, bucket="shift")
    chart = p_chart(shifts.defective, shifts.inspected)
    figures["p-chart (per shift): shifts flagged by rule 1"] = [
        shifts.buckets.labels[i] for i in np.flatnonzero(chart.signals[1])
    ]
    pareto_ms, pareto = median_ms(lambda: defect_pareto(engine, *month), args.repeat)
    figures["Pareto, one month (ms)"] = round(pareto_ms, 1)
    last_day = (END - timedelta(days=1), END)
    figures["Pareto, one day (ms)"] = round(
        median_ms(lambda: defect_pareto(engine, *last_day), args.repeat)[0], 1
    )
    figures["Pareto classes (defects)"] = dict(
        zip(pareto.classes, pareto.defects.tolist(), strict=True)
    )
    baseline_end = month[0] + timedelta(days=7)  # the first week defines normal
    drift_ms, drift = median_ms(
        lambda: score_drift(engine, *month, baseline_end=baseline_end), args.repeat
    )
    figures["score drift per shift, 30 days (ms)"] = round(drift_ms, 1)
    flagged = np.flatnonzero(drift.chart.out_of_control)
    figures["drift: first flagged shift (drift starts 2026-04-26)"] = (
        drift.buckets.labels[flagged[0]] if flagged.size else None
    )
    lighting_ms, lighting = median_ms(
        lambda: lighting_drift(engine, *month, baseline_end=baseline_end), args.repeat
    )
    figures["lighting per shift, 30 days (ms)"] = round(lighting_ms, 1)
    dims = END - timedelta(days=5)
    flagged = np.flatnonzero(lighting.chart.out_of_control)
    before = [i for i in flagged if lighting.buckets.starts[i] + timedelta(hours=8) <= dims]
    after = [i for i in flagged if i not in before]
    figures["lighting: first flagged shift once the lamp dims (2026-04-26 00:00 UTC)"] = (
        lighting.buckets.labels[after[0]] if after else None
    )
    figures["lighting: shifts flagged once it dims / shifts then"] = (
        f"{len(after)} / {sum(s + timedelta(hours=8) > dims for s in lighting.buckets.starts)}"
    )
    figures["lighting: false alarms before (shifts flagged)"] = [
        lighting.buckets.labels[i] for i in before
    ]
    figures["review queue, 50 newest unreviewed (ms)"] = round(
        median_ms(lambda: review_queue(engine, 50), args.repeat)[0], 1
    )
    figures["review confusion, one month (ms)"] = round(
        median_ms(lambda: review_confusion(engine, *month), args.repeat)[0], 1
    )
    figures["days in the daily series"] = len(daily.buckets.starts)
    print(json.dumps(figures, indent=2))
    engine.dispose()


if __name__ == "__main__":
    main()
