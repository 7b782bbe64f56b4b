"""Image retention speed: a pass over a database where few records hold an image.

Run: ``.venv/bin/python benchmarks/bench_retention.py [--records N] [--images M]``

Builds a SQLite database of ``N`` records spread over 60 days of which ``M``
hold a real JPEG (rejects and sampled goods, as the writer keeps them), then
times: a dry run, the real pass (goods older than 30 days go, evidence older
than 45 days goes), and the next pass, which has nothing to do (the cost of the
line's hourly pass in the steady state). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from inspector.core import Verdict
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import NewRecord, add_inspections
from inspector.storage.retention import RetentionPolicy, folder_usage, prune_images

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = open_database(Path(folder) / "records.db")
        store = ImageStore(Path(folder) / "images")
        started = time.perf_counter()
        _fill(engine, store, args.records, args.images)
        built_s = time.perf_counter() - started
        policy = RetentionPolicy(keep_good_days=30, keep_reject_days=45)
        figures: dict[str, object] = {"records": args.records, "images": args.images}
        figures["build_s"] = round(built_s, 1)
        figures["folder_mb"] = round(folder_usage(store.root) / 1e6, 1)
        for name, dry in (("dry_run", True), ("pass", False), ("idle_pass", False)):
            started = time.perf_counter()
            result = prune_images(engine, store, policy, now=NOW, dry_run=dry)
            seconds = time.perf_counter() - started
            figures[name] = {
                "seconds": round(seconds, 3),
                "removed": result.removed,
                "images_per_s": round(result.removed / seconds) if result.removed else None,
            }
        engine.dispose()
    print(json.dumps(figures, indent=2))


def _fill(engine, store: ImageStore, records: int, images: int) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    every = max(1, records // images)
    batch: list[NewRecord] = []
    for index in range(records):
        captured_at = NOW - timedelta(days=60 * (records - index) / records)
        verdict = Verdict.REJECT if index % (every * 3) == 0 else Verdict.ACCEPT
        path = None
        if index % every == 0:
            path = store.save(
                pixels, captured_at=captured_at, station="s1", part_id=index, verdict=verdict
            )
        batch.append(
            NewRecord(
                captured_at=captured_at,
                station="s1",
                camera_id="cam0",
                part_id=index,
                verdict=verdict,
                score=0.3,
                threshold=0.5,
                model_version="m-1",
                rules_version="r-1",
                inference_ms=1.0,
                latency_ms=2.0,
                error=None,
                image_path=path,
            )
        )
        if len(batch) == 5000:
            add_inspections(engine, batch)
            batch.clear()
    if batch:
        add_inspections(engine, batch)


if __name__ == "__main__":
    main()
