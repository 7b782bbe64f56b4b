"""The ``export`` subcommand of ``inspector``: a model package to a torch-free runtime package.

Kept apart from :mod:`inspector.cli` like the quality commands; the main
parser calls :func:`add_export_commands` and dispatches to ``args.handler``.
torch, onnxscript and ONNX Runtime are imported inside the handler only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_USAGE = 0, 2


def add_export_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export`` to the ``inspector`` parser's subcommands."""
    export = subparsers.add_parser(
        "export",
        help="export a model for ONNX Runtime (a line PC without torch)",
        description="Export a model package to a runtime package: network.onnx (scores and "
        "maps; the threshold stays in the decision rules), memory_bank.npy and model.json "
        "with SHA-256 hashes. The export is refused when ONNX Runtime does not reproduce the "
        "torch scores. Run it with --backend onnxruntime (or auto) on run, predict, evaluate.",
    )
    export.add_argument("--model", required=True, type=Path, help="model package folder")
    export.add_argument("--format", default="onnx", choices=["onnx"], help="runtime format")
    export.add_argument("--out", required=True, type=Path, help="runtime package folder to write")
    export.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing package")
    int8 = export.add_argument_group(
        "INT8",
        "Quantise the backbone's convolutions to INT8, calibrated on good parts, rebuild the "
        "memory bank, normalisation and threshold from the INT8 features of those parts, and "
        "keep the result only if it measures as good as fp32 on labelled images.",
    )
    int8.add_argument("--int8", action="store_true", help="write an INT8 package")
    int8.add_argument(
        "--calibration",
        type=Path,
        help="folder of good-part images (>= 8; all rebuild the memory, so the model's "
        "training images are best)",
    )
    int8.add_argument(
        "--check-data", type=Path, help="labelled folder <class>/<stem> with 'good' (evaluate's)"
    )
    int8.add_argument(
        "--max-auroc-drop", type=float, default=0.01, help="refuse if image AUROC falls more"
    )
    int8.add_argument(
        "--max-escape-increase",
        type=float,
        default=0.02,
        help="refuse if the escape rate at the threshold rises more",
    )
    int8.add_argument(
        "--max-false-reject-increase",
        type=float,
        default=0.02,
        help="refuse if the false-reject rate at the threshold rises more",
    )
    int8.add_argument(
        "--calibration-images",
        type=int,
        default=64,
        help="most images the activation ranges are taken on",
    )
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    """``inspector export``: writes the runtime package and says what was checked."""
    if args.int8:
        from inspector.cli_int8 import run_int8_export

        return run_int8_export(args)
    if args.calibration or args.check_data:
        print("error: --calibration and --check-data go with --int8", file=sys.stderr)
        return EXIT_USAGE
    from inspector.ml.onnx_export import OPSET, export_onnx

    package = export_onnx(
        args.model,
        args.out,
        overwrite=args.overwrite,
        opset=args.opset if args.opset is not None else OPSET,
    )
    size = sum((args.out / name).stat().st_size for name in package.files)
    check = package.export_check
    print(
        f"exported {package.source_version} to {args.out} as {package.version} "
        f"(ONNX opset {package.opset}, {size / 1e6:.1f} MB, bank {package.memory_bank.dtype})"
    )
    print(
        f"checked on {check['images']} images: largest relative score difference to torch "
        f"{check['max_relative_score_difference']:.2g}; threshold {package.threshold:.6g} "
        "stays in the decision rules"
    )
    return EXIT_OK
