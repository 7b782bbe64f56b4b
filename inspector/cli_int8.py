"""``inspector export --int8``: an INT8 runtime package, kept only if it keeps the quality.

The steps: export the fp32 network (checked against torch as always),
quantise the backbone calibrated on good parts and rebuild the memory from
its features (:mod:`inspector.training.int8_export`), evaluate both networks
on the same labelled images, and write the INT8 package only when its image
AUROC, escape and false-reject rates stay within the limits; otherwise nothing
is written and the message says by how much quality fell. The measured
figures go into the package's ``model.json`` (``quantization.check``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from inspector.core.errors import InspectorError, SourceError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _progress(label: str):  # noqa: ANN202 - a progress callback
    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else "\r"
        print(f"{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)

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
    from inspector.acquisition.image_files import list_images
    from inspector.ml.onnx_export import OPSET
    from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer
    from inspector.ml.runtime_package import METADATA_FILE, save_runtime_package
    from inspector.reports.evaluation_report import summarize
    from inspector.reports.int8_quality import Int8Quality, refusal
    from inspector.training.evaluate import evaluate_package, without_masks
    from inspector.training.int8_export import export_int8

    out = Path(args.out)
    if (out / METADATA_FILE).exists() and not args.overwrite:
        print(f"error: {out} already holds a model package: pass --overwrite", file=sys.stderr)
        return EXIT_USAGE
    try:
        good = without_masks(list_images(args.calibration))
        print(
            f"quantising on {min(len(good), args.calibration_images)} of {len(good)} good "
            "images; the memory bank is rebuilt from all of them"
        )
        fp32, int8 = export_int8(
            args.model,
            good,
            opset=args.opset if args.opset is not None else OPSET,
            calibration_images=args.calibration_images,
            progress=lambda stage, done, total: _progress(stage)(done, total),
        )
        rebuilt = int8.quantization["rebuilt_from_int8_features"]
        print(
            f"memory rebuilt from INT8 features: bank {rebuilt['bank_size']} patches of "
            f"{rebuilt['bank_images']} images; threshold {fp32.threshold:.4g} -> "
            f"{int8.threshold:.4g}"
        )
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
