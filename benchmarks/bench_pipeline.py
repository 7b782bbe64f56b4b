"""Model-only vs full-pipeline throughput and latency on the demo line.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_pipeline.py --parts 400``).

Measures on the machine it runs on:
1. model only: the shipped model scoring pre-rendered demo parts in batches;
2. full headless pipeline, unpaced: demo line → queue → model → decision → SQLite
   writer, as fast as it goes (throughput; latency then includes queueing);
3. full pipeline paced at the demo line's default 10 parts/s (the latency a part
   sees on a line that is not saturated).
The target is pipeline throughput ≥ 90 % of model-only throughput.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from inspector.acquisition.demo_line import DemoLine
from inspector.pipeline.line import DEFAULT_MODEL_DIR, LineSettings, build_line, load_scorer


def model_only(scorer, parts: int, batch: int) -> float:  # noqa: ANN001
    """Images/s of the model alone on pre-rendered parts.

    Runs on a worker thread, as the station's inference does: on this machine
    torch's CPU convolutions run several times slower on the process's main
    thread than on any other (glibc's main-arena trimming; see the closing note
    of the foundation issue), and comparing a main-thread model with a
    worker-thread pipeline would flatter the pipeline.
    """
    with DemoLine(rate_hz=0, seed=1, max_parts=parts) as line:
        images = [frame.image for frame in line]
    result: list[float] = []

    def run() -> None:
        scorer.predict(images[:batch])  # warm-up
        started = time.perf_counter()
        for start in range(0, len(images), batch):
            scorer.predict(images[start : start + batch])
        result.append(len(images) / (time.perf_counter() - started))

    worker = threading.Thread(target=run, name="bench-model")
    worker.start()
    worker.join()
    return result[0]


def pipeline(scorer, parts: int, rate_hz: float, batch: int) -> dict:  # noqa: ANN001
    """Run the full station into a temporary database and return its figures."""
    with tempfile.TemporaryDirectory() as folder:
        settings = LineSettings(
            database=Path(folder) / "bench.db",
            rate_hz=rate_hz,
            seed=2,
            max_parts=parts,
            max_batch=batch,
        )
        line = build_line(settings, scorer=scorer)
        started = time.perf_counter()
        line.station.start()
        line.station.wait()
        elapsed = time.perf_counter() - started
        line.station.stop()
        snap = line.station.snapshot()
        line.engine.dispose()
    return {
        "parts": snap.inspected,
        "not_inspected": snap.not_inspected,
        "parts_per_s": snap.inspected / elapsed,
        "latency_p50_ms": snap.latency_p50_ms,
        "latency_p99_ms": snap.latency_p99_ms,
    }


def main() -> None:
    """Print the figures as text and JSON.

    Model-only and pipeline runs alternate for ``--rounds`` rounds and the median
    of each is reported, so a burst of load from another process on a small
    machine skews both sides alike instead of one.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    args = parser.parse_args()
    scorer = load_scorer(args.model, args.device)
    model_rates, unpaced_runs = [], []
    for _ in range(args.rounds):
        model_rates.append(model_only(scorer, args.parts, args.batch))
        unpaced_runs.append(pipeline(scorer, args.parts, 0.0, args.batch))
    paced = pipeline(scorer, 100, 10.0, args.batch)
    model_rate = statistics.median(model_rates)
    unpaced = sorted(unpaced_runs, key=lambda run: run["parts_per_s"])[len(unpaced_runs) // 2]
    ratio = unpaced["parts_per_s"] / model_rate
    print(f"device: {scorer.device_label}; model {scorer.version}; batch {args.batch}")
    print(
        f"model only:          {model_rate:7.1f} images/s  (rounds: "
        + ", ".join(f"{r:.1f}" for r in model_rates)
        + ")"
    )
    print(
        f"pipeline (unpaced):  {unpaced['parts_per_s']:7.1f} parts/s  "
        f"latency p50 {unpaced['latency_p50_ms']:.0f} ms  p99 {unpaced['latency_p99_ms']:.0f} ms"
        "  (rounds: " + ", ".join(f"{r['parts_per_s']:.1f}" for r in unpaced_runs) + ")"
    )
    print(
        f"pipeline (10 /s):    {paced['parts_per_s']:7.1f} parts/s  "
        f"latency p50 {paced['latency_p50_ms']:.0f} ms  p99 {paced['latency_p99_ms']:.0f} ms"
    )
    print(f"pipeline / model:    {100 * ratio:5.1f} %  (target >= 90 %)")
    summary = {
        "model_images_per_s": model_rate,
        "unpaced": unpaced,
        "paced_10hz": paced,
        "ratio": ratio,
        "device": scorer.device_label,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
