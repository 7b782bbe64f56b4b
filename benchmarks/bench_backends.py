"""torch against ONNX Runtime: ``predict`` throughput, batch latency and score agreement.

Run: ``.venv/bin/python benchmarks/bench_backends.py --model MODEL_DIR --images DIR
[--compare DIR]`` (for example the magnetic-tile ``val/good`` folder for speed and
``val/`` for the score comparison, with a model fitted on its ``train/good``).
``--onnx PKG`` takes an exported runtime package; without it the model is
exported to a temporary folder first.

Both backends score the same files through :func:`~inspector.training.predict.predict_files`
(decoding, preprocessing, the network, the decision rules, the JSON line),
on a worker thread as the station's inference does (on this machine torch's
CPU convolutions run several times slower on the process's main thread), with
2 intra-op threads each by default. Passes alternate between the backends so
that load from other processes on a shared machine falls on both alike; run it
more than once there. Reported: images/s (best and median pass), p50/p99 of
the time of one ``predict`` call of ``--batch`` images, and the largest
relative score difference and verdict agreement over ``--compare``.
The issue's target: ONNX Runtime fp32 at least 1.3x torch on the CPU.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from inspector.ml.backend import open_inferencer
from inspector.ml.onnx_export import export_onnx
from inspector.training.predict import expand_inputs, predict_files


class TimedInferencer:
    """Passes ``predict`` through to an inferencer and keeps each call's wall time."""

    def __init__(self, inferencer) -> None:  # noqa: ANN001 - either backend
        self.inner = inferencer
        self.version = inferencer.version
        self.default_threshold = inferencer.default_threshold
        self.seconds: list[float] = []

    def predict(self, images: Sequence[np.ndarray]) -> list:
        started = time.perf_counter()
        outputs = self.inner.predict(images)
        self.seconds.append(time.perf_counter() - started)
        return outputs


def on_worker(task: Callable[[], object]) -> object:
    """Run ``task`` on a fresh thread and return its result (see the module docstring)."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(task()), name="bench-backend")
    worker.start()
    worker.join()
    return result[0]


def predict_pass(model: TimedInferencer, files: list[Path], batch: int) -> tuple[float, str]:
    """One ``predict`` pass: images/s and the JSON lines it wrote."""
    out = io.StringIO()
    summary = on_worker(lambda: predict_files(model, files, out, batch=batch))
    return summary.images_per_second, out.getvalue()


def compare(torch_lines: str, onnx_lines: str) -> dict:
    """Largest relative score difference and verdict agreement, path by path."""
    ref = {r["path"]: r for r in map(json.loads, torch_lines.splitlines())}
    got = {r["path"]: r for r in map(json.loads, onnx_lines.splitlines())}
    diffs = [abs(got[p]["score"] - r["score"]) / abs(r["score"]) for p, r in ref.items()]
    same = sum(got[p]["verdict"] == r["verdict"] for p, r in ref.items())
    return {
        "images": len(ref),
        "max_relative_score_difference": float(max(diffs)),
        "median_relative_score_difference": float(statistics.median(diffs)),
        "identical_verdicts": f"{same}/{len(ref)}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="torch model package")
    parser.add_argument("--onnx", type=Path, help="its runtime package (default: export one)")
    parser.add_argument("--images", required=True, type=Path, help="images to time")
    parser.add_argument("--compare", type=Path, help="images to compare scores on")
    parser.add_argument("--limit", type=int, default=200, help="images to time at most")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads, both backends")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per backend")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        onnx_dir = args.onnx or export_onnx(args.model, Path(folder) / "onnx").path
        models = {
            "torch": open_inferencer(args.model, "torch", device="cpu", max_batch=args.batch),
            "onnxruntime": open_inferencer(
                onnx_dir, "onnxruntime", device="cpu", max_batch=args.batch, threads=args.threads
            ),
        }
    files = expand_inputs([args.images])[: args.limit]
    timed = {name: TimedInferencer(model) for name, model in models.items()}
    rates: dict[str, list[float]] = {name: [] for name in timed}
    for model in timed.values():  # warm-up, not timed
        predict_pass(model, files[: args.batch], args.batch)
        model.seconds.clear()
    for _ in range(args.repeats):
        for name, model in timed.items():
            rates[name].append(predict_pass(model, files, args.batch)[0])
    report: dict = {
        "model": models["torch"].version,
        "images": len(files),
        "batch": args.batch,
        "threads": args.threads,
        "repeats": args.repeats,
    }
    for name, model in timed.items():
        ms = 1000.0 * np.array(model.seconds)
        report[name] = {
            "device": models[name].device_label,
            "images_per_s_best": round(max(rates[name]), 2),
            "images_per_s_median": round(statistics.median(rates[name]), 2),
            "batch_latency_p50_ms": round(float(np.percentile(ms, 50)), 1),
            "batch_latency_p99_ms": round(float(np.percentile(ms, 99)), 1),
        }
    report["speed_ratio_median"] = round(
        statistics.median(rates["onnxruntime"]) / statistics.median(rates["torch"]), 3
    )
    if args.compare is not None:
        compare_files = expand_inputs([args.compare])
        lines = {n: predict_pass(m, compare_files, args.batch)[1] for n, m in timed.items()}
        report["agreement"] = compare(lines["torch"], lines["onnxruntime"])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
