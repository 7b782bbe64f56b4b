"""Peak memory of ``inspector evaluate`` as a labelled set grows.

Run: ``.venv/bin/python benchmarks/evaluate_memory.py --model MODEL_DIR
--data ../shared/datasets/magnetic-tile/train --copies 1 4``
(each count in a fresh process; about 1.5 minutes for 4 copies of ``train/`` on
2 CPU cores).

Why: an evaluation keeps what the pixel metrics need until every image is
scored, so its memory grows with the set; a QA engineer's validation set of a
few thousand images must not run the PC out of memory at the very end. The set
is made ``--copies`` times larger by linking every image and mask again under
new names, so the figures need no extra data.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inspector.reports.evaluation_report import summarize
from inspector.training.evaluate import evaluate_package


def linked_copies(data: Path, copies: int, into: Path) -> Path:
    """``data``'s class folders with every file linked ``copies`` times (``k<n>_<name>``)."""
    for source in sorted(p for p in data.rglob("*") if p.is_file()):
        folder = into / source.parent.relative_to(data)
        folder.mkdir(parents=True, exist_ok=True)
        for copy in range(copies):
            (folder / f"k{copy}_{source.name}").symlink_to(source.resolve())
    return into


def measure(model: Path, data: Path, copies: int) -> dict[str, object]:
    """Evaluate the enlarged set in this process; its peak resident memory and figures."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = linked_copies(data, copies, Path(scratch))
        started = time.perf_counter()
        run = evaluate_package(model, folder, device="cpu")
        summary = summarize(run.images, run.rules.threshold)
        seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "copies": copies,
        "images": len(run.images),
        "peak_mb": round(peak_kib / 1024),
        "pixel_stride": run.pixel_stride,
        "pixel_auroc": summary.pixel_auroc,
        "aupro": summary.aupro,
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="model package folder")
    parser.add_argument("--data", required=True, type=Path, help="labelled folder (evaluate's)")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.model, args.data, args.copies[0])))
        return
    print("copies  images  peak MB  pixel stride  pixel AUROC  AUPRO   seconds")
    for copies in args.copies:
        command = [sys.executable, __file__, "--one", "--model", str(args.model)]
        command += ["--data", str(args.data), "--copies", str(copies)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{row['copies']:6d}  {row['images']:6d}  {row['peak_mb']:7d}"
            f"  {row['pixel_stride']:12d}  {row['pixel_auroc']:11.4f}  {row['aupro']:.4f}"
            f"  {row['seconds']:7.1f}"
        )


if __name__ == "__main__":
    main()
