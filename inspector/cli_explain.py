"""The ``explain`` subcommand of ``inspector``: why a classifier (and an anomaly model) decided.

Kept apart from :mod:`inspector.cli` like the other command groups; the main
parser calls :func:`add_explain_commands` and dispatches to ``args.handler``.
torch is imported inside the handler only, and the models run on a worker
thread (:func:`inspector.cli_worker.call_on_worker`), where torch's CPU
convolutions run at full speed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inspector.cli_worker import call_on_worker

EXIT_OK, EXIT_FAILED = 0, 1


def add_explain_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``explain`` to the ``inspector`` parser's subcommands."""
    parser = subparsers.add_parser(
        "explain",
        help="write a Grad-CAM figure per image (and the anomaly map beside it)",
        description="For each image write OUT/<stem>.png: the image, the Grad-CAM of the "
        "classifier's predicted class (or --class) with its probabilities, and with --model "
        "the anomaly overlay and verdict the live view would show.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="image files or folders")
    parser.add_argument("--classifier", required=True, type=Path, help="classifier package folder")
    parser.add_argument("--model", type=Path, help="anomaly model package shown beside it")
    parser.add_argument("--out", required=True, type=Path, help="folder for the figures")
    parser.add_argument(
        "--class",
        dest="target_class",
        help="explain this class on every image (default: each image's predicted class)",
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.set_defaults(handler=run_explain_command)


def run_explain_command(args: argparse.Namespace) -> int:
    """``inspector explain``: returns 1 when some image could not be read."""
    from inspector.training.explain import explain_files

    def progress(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rexplained {done}/{total}", end=end, file=sys.stderr, flush=True)

    results = call_on_worker(
        lambda: explain_files(
            args.classifier,
            args.paths,
            args.out,
            model_dir=args.model,
            target_class=args.target_class,
            device=args.device,
            progress=progress,
        ),
        name="explain",
    )
    failed = [r for r in results if r.error is not None]
    for r in results:
        if r.error is None:
            anomaly = "" if r.verdict is None else f"; anomaly {r.anomaly_score:.4g} {r.verdict}"
            print(
                f"{r.path}: {r.top_class} {r.probability:.3f}, Grad-CAM of "
                f"'{r.target_class}'{anomaly} -> {r.figure}"
            )
    for r in failed:
        print(f"error: {r.error}", file=sys.stderr)
    print(f"{len(results) - len(failed)} figure(s) in {args.out}")
    return EXIT_FAILED if failed else EXIT_OK
