"""The ``robustness`` subcommand of ``inspector``: a model under shop-floor corruptions.

Kept apart from :mod:`inspector.cli` like the quality commands; the main
parser calls :func:`add_robustness_commands` and dispatches to
``args.handler``. torch is imported inside the handler only (the corruptions module is numpy and
OpenCV), and the scoring
runs on a worker thread (:func:`inspector.cli_worker.call_on_worker`), where
torch's CPU convolutions run at full speed.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from inspector.cli_worker import call_on_worker
from inspector.training.corruptions import CORRUPTIONS, SEVERITIES

EXIT_OK, EXIT_FAILED = 0, 1
CORRUPTION_NAMES = tuple(CORRUPTIONS)


def add_robustness_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``robustness`` to the ``inspector`` parser's subcommands."""
    parser = subparsers.add_parser(
        "robustness",
        help="measure a model under shop-floor corruptions and adversarial perturbations",
        description="Score a labelled folder (<class>/<stem>.jpg, 'good' = OK) clean and under "
        "brightness/contrast drift, defocus and motion blur, sensor noise, JPEG, shifts, "
        "rotations and occlusion at severities 1-5; search the smallest pixel perturbation "
        "that lets a defective part through; write robustness.json and robustness.html.",
    )
    parser.add_argument("--model", required=True, type=Path, help="model package folder")
    parser.add_argument("--data", required=True, type=Path, help="labelled folder, 'good' = OK")
    parser.add_argument(
        "--out", type=Path, help="report folder (default: robustness-<model version>)"
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "torch", "onnxruntime"],
        help="torch, or onnxruntime for an exported package (auto: what the package is for)",
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=8, help="images per forward pass")
    parser.add_argument(
        "--max-images", type=int, help="score a class-stratified sample of N images (seeded)"
    )
    parser.add_argument(
        "--adversarial-images",
        type=int,
        default=8,
        help="defective images to attack (0: none; ONNX packages are never attacked); for a "
        "classifier package: images (class-stratified) attacked with FGSM and PGD",
    )
    parser.add_argument("--adversarial-steps", type=int, default=10, help="PGD steps per try")
    parser.add_argument(
        "--corruptions",
        type=_names,
        default=CORRUPTION_NAMES,
        help=f"comma-separated subset of {','.join(CORRUPTION_NAMES)} (default: all)",
    )
    parser.add_argument(
        "--severities",
        type=_severities,
        default=SEVERITIES,
        help="comma-separated severities 1-5 (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and corruptions")
    parser.add_argument(
        "--no-lighting-check",
        dest="check_lighting",
        action="store_false",
        help="judge images lit unlike the model's good parts (brightness and contrast drifts) "
        "instead of giving them the fail-safe verdict",
    )
    parser.set_defaults(handler=run_robustness_command)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in CORRUPTION_NAMES]
    if unknown or not names:
        msg = f"unknown corruptions {unknown or '(none given)'}: use some of {CORRUPTION_NAMES}"
        raise argparse.ArgumentTypeError(msg)
    return names


def _severities(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and 1 <= int(p) <= 5 for p in parts):
        msg = f"expected comma-separated severities 1-5 such as 1,3,5, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return tuple(sorted({int(p) for p in parts}))


def _progress(stage: str, done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    print(f"\r{stage}: {done}/{total}", end=end, file=sys.stderr, flush=True)


def run_robustness_command(args: argparse.Namespace) -> int:
    """``inspector robustness``: returns 1 when some image could not be read."""
    from inspector.reports.robustness_report import summarize_robustness, write_robustness_report
    from inspector.training.robustness import run_robustness

    run = call_on_worker(
        lambda: run_robustness(
            args.model,
            args.data,
            corruptions=args.corruptions,
            severities=args.severities,
            backend=args.backend,
            device=args.device,
            batch=args.batch,
            max_images=args.max_images,
            seed=args.seed,
            adversarial_images=args.adversarial_images,
            adversarial_steps=args.adversarial_steps,
            progress=_progress,
            check_lighting=args.check_lighting,
        ),
        name="robustness",
    )
    summary = summarize_robustness(run)
    page = write_robustness_report(
        run, summary, args.out or Path(f"robustness-{run.model_version}")
    )
    print(format_robustness(summary, run.adversarial.epsilons))
    if run.classifier_attacks is not None:
        print(format_classifier_attacks(run.classifier_attacks))
    print(f"{len(run.classes)} images in {run.seconds:.0f} s; report: {page}")
    if run.unreadable:
        print(
            f"error: {len(run.unreadable)} image(s) could not be read: see robustness.json",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def format_robustness(summary, epsilons) -> str:  # noqa: ANN001 - reports.robustness_report types
    """The table a person wants on the terminal: AUROC / escape / false-reject per condition."""

    def num(value: float | None) -> str:
        return "  n/a" if value is None else f"{value:.3f}"

    def pct(value: float) -> str:
        return "  n/a" if math.isnan(value) else f"{100 * value:5.1f}%"

    lines = [f"{'condition':<14}{'level':>7}  {'AUROC':>6}  {'escape':>7}  {'false rej':>9}"]
    for c in (summary.clean, *summary.conditions):
        name = "clean" if c.severity == 0 else f"{c.corruption} s{c.severity}"
        level = "" if c.severity == 0 else f"{c.level:g}"
        lines.append(
            f"{name:<14}{level:>7}  {num(c.image_auroc):>6}  {pct(c.escape_rate):>7}  "
            f"{pct(c.false_reject_rate):>9}"
        )
    if summary.attacked:
        median = summary.median_epsilon
        text = f"> {max(epsilons)}" if median is None else f"{median:g}"
        lines.append(
            f"adversarial: {summary.escapes_found}/{summary.attacked} defective parts made to "
            f"escape; median smallest epsilon {text} grey levels"
        )
    return "\n".join(lines)


def format_classifier_attacks(attacks) -> str:  # noqa: ANN001 - training.robustness_results type
    """Accuracy (and good-vs-defect accuracy) of a classifier per epsilon under FGSM and PGD."""

    def pct(value: float | None) -> str:
        return "   n/a" if value is None else f"{100 * value:5.1f}%"

    found = {(r.method, r.epsilon): r for r in attacks.results}
    lines = [
        f"classifier under attack ({len(attacks.paths)} images, PGD {attacks.steps} steps): "
        "accuracy / good-vs-defect accuracy",
        f"{'epsilon':>8}  {'FGSM':>15}  {'PGD':>15}",
    ]
    clean = f"{pct(attacks.clean_accuracy)} / {pct(attacks.clean_good_vs_defect_accuracy)}"
    lines.append(f"{'clean':>8}  {clean}  {clean}")
    for eps in attacks.epsilons:
        cells = [
            f"{pct(found[(m, eps)].accuracy)} / {pct(found[(m, eps)].good_vs_defect_accuracy)}"
            for m in ("fgsm", "pgd")
        ]
        lines.append(f"{eps:>8}  {cells[0]}  {cells[1]}")
    return "\n".join(lines)
