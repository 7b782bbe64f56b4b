"""``inspector export --int8``: an INT8 runtime package, kept only if it keeps the quality.

The steps: export the fp32 network (checked against torch as always),
quantise its convolutions calibrated on good parts, evaluate both networks on
the same labelled images, and write the INT8 package only when its image
AUROC and escape rate stay within the limits; otherwise nothing is written and
the message says by how much quality fell. The measured figures go into the
package's ``model.json`` (``quantization.check``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from inspector.core.errors import InspectorError, SourceError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _calibration_images(folder: Path, most: int) -> list[np.ndarray]:
    """Up to ``most`` images spread evenly over the folder; an unreadable one is an error."""
    from inspector.acquisition.image_files import list_images, read_image
    from inspector.training.evaluate import without_masks

    files = without_masks(list_images(folder))
    if len(files) > most:
        files = [files[i] for i in np.linspace(0, len(files) - 1, most).round().astype(int)]
    return [read_image(file) for file in files]


def _progress(label: str):  # noqa: ANN202 - a progress callback
    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else "\r"
        print(f"{label}: {done}/{total} images", end=end, file=sys.stderr, flush=True)

    return show


def run_int8_export(args: argparse.Namespace) -> int:
    """Export, quantise, check and (if good enough) write; 1 when refused, 2 for bad options."""
    if args.calibration is None or args.check_data is None:
        print(
            "error: --int8 needs --calibration GOOD_DIR (good parts to calibrate on) and "
            "--check-data LABELLED_DIR (good and defective parts to check the quality on)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.calibration_images < 8:
        print("error: --calibration-images must be at least 8", file=sys.stderr)
        return EXIT_USAGE
    from inspector.ml.onnx_export import OPSET, export_onnx
    from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer
    from inspector.ml.onnx_quantize import quantize_package
    from inspector.ml.runtime_package import METADATA_FILE, save_runtime_package
    from inspector.reports.evaluation_report import summarize
    from inspector.reports.int8_quality import Int8Quality, refusal
    from inspector.training.evaluate import evaluate_package

    out = Path(args.out)
    if (out / METADATA_FILE).exists() and not args.overwrite:
        print(f"error: {out} already holds a model package: pass --overwrite", file=sys.stderr)
        return EXIT_USAGE
    try:
        calibration = _calibration_images(args.calibration, args.calibration_images)
        with tempfile.TemporaryDirectory(prefix="inspector-fp32-") as tmp:
            opset = args.opset if args.opset is not None else OPSET
            fp32 = export_onnx(args.model, Path(tmp) / "fp32", opset=opset)
        print(f"exported {fp32.version}; quantising on {len(calibration)} good images")
        int8 = quantize_package(fp32, calibration)
        summaries = []
        for label, package in (("fp32", fp32), ("int8", int8)):
            run = evaluate_package(
                OnnxAnomalyInferencer(package, device="cpu"),
                args.check_data,
                progress=_progress(f"checking {label}"),
            )
            summaries.append(summarize(run.images, run.rules.threshold))
        quality = Int8Quality.of(len(run.images), *summaries)
        reason = refusal(
            quality,
            max_auroc_drop=args.max_auroc_drop,
            max_escape_increase=args.max_escape_increase,
            max_false_reject_increase=args.max_false_reject_increase,
        )
    except (InspectorError, SourceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(quality.summary())
    if reason is not None:
        print(
            f"INT8 refused: {reason}. Nothing was written; export without --int8 for the "
            "fp32 package, or loosen the --max-* limits knowingly.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    settings = {
        **int8.quantization,
        "check": quality.as_dict(),
        "check_data": str(args.check_data),
        "limits": {
            "max_auroc_drop": args.max_auroc_drop,
            "max_escape_increase": args.max_escape_increase,
            "max_false_reject_increase": args.max_false_reject_increase,
        },
    }
    save_runtime_package(replace(int8, quantization=settings), out, overwrite=args.overwrite)
    print(f"wrote {int8.version} to {out}")
    return EXIT_OK
