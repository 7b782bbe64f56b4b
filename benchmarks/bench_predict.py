"""End-to-end ``predict`` throughput on this machine: files in, JSON lines out.

Run: ``.venv/bin/python benchmarks/bench_predict.py --model MODEL_DIR --images DIR``
(for example the magnetic-tile ``val/`` folder and a model fitted on its ``train/good``).

Counts everything ``inspector predict`` does per image: decoding the file,
preprocessing, the model, the decision rules and writing the JSON line (maps
are not written unless ``--maps``). Model loading is excluded (it happens
once per station start); one warm-up pass over the first batch is run first.
The issue's CPU target is at least 15 images/s on 2 cores.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
from pathlib import Path

import torch

from inspector.acquisition.image_files import list_images, read_image
from inspector.ml.inferencer import AnomalyInferencer
from inspector.training.predict import predict_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="model package folder")
    parser.add_argument("--images", required=True, type=Path, help="folder of images")
    parser.add_argument("--limit", type=int, default=200, help="images to score at most")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best is kept")
    parser.add_argument("--maps", action="store_true", help="also write the .npy maps")
    args = parser.parse_args()

    files = list_images(args.images)[: args.limit]
    inferencer = AnomalyInferencer(args.model, device=args.device, max_batch=args.batch)
    inferencer.predict([read_image(f) for f in files[: args.batch]])  # warm-up
    rates = []
    with tempfile.TemporaryDirectory() as maps:
        for _ in range(args.repeats):
            summary = predict_files(
                inferencer, files, io.StringIO(), maps_dir=maps if args.maps else None
            )
            rates.append(summary.images_per_second)
    package = inferencer.package
    bank_bytes = sum((package.path / name).stat().st_size for name in package.files)
    print(
        json.dumps(
            {
                "model": inferencer.version,
                "device": inferencer.device_label,
                "torch_threads": torch.get_num_threads(),
                "input_size": package.input_size,
                "layers": list(package.layers),
                "bank": list(package.memory_bank.shape),
                "package_bytes": bank_bytes,
                "images": len(files),
                "batch": args.batch,
                "images_per_s_best": round(max(rates), 2),
                "images_per_s_median": round(statistics.median(rates), 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
