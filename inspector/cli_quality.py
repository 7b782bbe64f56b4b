"""The ``predict`` and ``evaluate`` subcommands of ``inspector`` (quality of a model).

Kept apart from :mod:`inspector.cli` so the line commands stay short; the
main parser calls :func:`add_quality_commands` and dispatches to the handler
each subparser sets as ``args.handler``. Heavy imports (torch) happen inside
the handlers, so ``inspector --help`` stays fast.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from inspector.cli_worker import call_on_worker

EXIT_OK, EXIT_FAILED = 0, 1
EXIT_NOT_ACCEPTED = 3
"""``evaluate`` with acceptance criteria that the threshold in force does not meet."""


def add_quality_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict`` and ``evaluate`` to the ``inspector`` parser's subcommands."""
    predict = subparsers.add_parser(
        "predict",
        help="score images with a model; one JSON line per image",
        description="Score images (files or folders, searched recursively) and write one JSON "
        "object per image to --output. Unreadable images get an 'error' line; the exit code "
        "is 1 when any did.",
    )
    predict.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image or folder")
    predict.add_argument(
        "--model", type=Path, help="model package folder (default: the --config station's)"
    )
    predict.add_argument(
        "--config",
        type=Path,
        help="station TOML: its model, classifier and decision rules (zones, class rules, "
        "review band), so images are judged as on the line; --model/--classifier/--threshold "
        "override it",
    )
    predict.add_argument("--output", required=True, type=Path, help="JSONL file to write")
    predict.add_argument("--maps", type=Path, help="folder for anomaly maps (<stem>.npy)")
    predict.add_argument(
        "--classifier",
        type=Path,
        help="classifier package (inspector train --task classify) run beside the model: "
        "fills defects[].class with the part's most probable defect class",
    )
    _add_common(predict)
    predict.set_defaults(handler=run_predict)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="measure a model on labelled images (<class>/<stem>.jpg + .png masks)",
        description="Score every image of a labelled folder through the line's own path and "
        "write report.json, report.html, roc.png and example overlays.",
    )
    evaluate.add_argument("--model", required=True, type=Path, help="model package folder")
    evaluate.add_argument("--data", required=True, type=Path, help="labelled folder, 'good' = OK")
    evaluate.add_argument(
        "--report", type=Path, help="report folder (default: evaluation-<model version>)"
    )
    evaluate.add_argument(
        "--max-false-rejects",
        type=_share,
        metavar="SHARE",
        help="acceptance criterion: at most this share of good parts rejected (0.02 = 2 %%); "
        f"exit code {EXIT_NOT_ACCEPTED} when the threshold in force does not meet the criteria",
    )
    evaluate.add_argument(
        "--max-escapes",
        type=_share,
        metavar="SHARE",
        help="acceptance criterion: at most this share of defective parts accepted (0.05 = 5 %%)",
    )
    _add_common(evaluate)
    evaluate.set_defaults(handler=run_evaluate)


def _share(text: str) -> float:
    """A share from 0 to below 1, for argparse (percentages are refused, not guessed)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        msg = f"give a share from 0 to below 1 (0.02 for 2 %), not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _predict(args: argparse.Namespace, output):  # noqa: ANN001, ANN202 - PredictSummary
    from inspector.training.predict import predict_files

    model, rules, check_lighting = _model_and_rules(args)
    return predict_files(
        model,
        args.paths,
        output,
        maps_dir=args.maps,
        threshold=args.threshold,
        device=args.device,
        batch=args.batch,
        progress=_progress("predict"),
        backend=args.backend,
        classifier=None if args.config else args.classifier,
        rules=rules,
        check_lighting=check_lighting,
    )


def _model_and_rules(args: argparse.Namespace):  # noqa: ANN202 - (model, rules, check)
    """Without --config: the model folder and no rules (the model's threshold). With it:
    the station's scorer (classifier included) and its whole decision rules. Last, whether
    images lit unlike the model's good parts are given the fail-safe verdict (the
    station's ``lighting_check``, unless ``--no-lighting-check``)."""
    if args.config is None:
        return args.model, None, args.check_lighting
    from dataclasses import replace

    from inspector.ml.backend import open_inferencer
    from inspector.pipeline.line import line_rules, with_classifier
    from inspector.pipeline.station_config import load_station_config

    settings = load_station_config(args.config).line_settings()
    settings = replace(
        settings,
        model_dir=args.model or settings.model_dir,
        classifier_dir=args.classifier or settings.classifier_dir,
        threshold=args.threshold if args.threshold is not None else settings.threshold,
        device=args.device,
    )
    backend = args.backend if args.backend != "auto" else settings.backend
    scorer = open_inferencer(settings.model_dir, backend, device=args.device, max_batch=args.batch)
    scorer = with_classifier(scorer, settings)
    check = args.check_lighting and settings.check_lighting
    return scorer, line_rules(settings, scorer.default_threshold), check


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threshold", type=float, help="override the model's threshold")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=8, help="images per forward pass")
    parser.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "torch", "onnxruntime"],
        help="torch, or onnxruntime for an exported package (auto: what the package is for)",
    )
    parser.add_argument(
        "--no-lighting-check",
        dest="check_lighting",
        action="store_false",
        help="judge images lit unlike the model's good parts instead of giving them the "
        "fail-safe verdict",
    )


def _progress(stage: str):  # noqa: ANN202 - a progress callback
    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{stage}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return report


def run_predict(args: argparse.Namespace) -> int:
    """``inspector predict``: returns 1 when some image could not be read."""
    if args.model is None and args.config is None:
        print("error: predict needs --model MODEL_DIR or --config station.toml", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8") as output:
        summary = call_on_worker(lambda: _predict(args, output), name="predict")
    print(
        f"scored {summary.scored} image(s) with {summary.model_version} (threshold "
        f"{summary.threshold:.6g}) in {summary.seconds:.1f} s "
        f"({summary.images_per_second:.1f} images/s); results in {args.output}"
    )
    if summary.failed:
        print(
            f"error: {summary.failed} image(s) could not be read: see their 'error' lines",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def run_evaluate(args: argparse.Namespace) -> int:
    """``inspector evaluate``: returns 1 when some image could not be read, else 3 when
    the threshold in force fails the acceptance criteria given."""
    from inspector.reports.acceptance import acceptance_lines
    from inspector.reports.evaluation_report import summarize, write_evaluation_report
    from inspector.training.evaluate import evaluate_package

    run = call_on_worker(
        lambda: evaluate_package(
            args.model,
            args.data,
            threshold=args.threshold,
            device=args.device,
            batch=args.batch,
            progress=_progress("evaluate"),
            backend=args.backend,
            check_lighting=args.check_lighting,
        ),
        name="evaluate",
    )
    summary = summarize(run.images, run.rules.threshold)
    acceptance = _acceptance(args, run, summary)
    out = args.report or Path(f"evaluation-{run.model_version}")
    page = write_evaluation_report(run, summary, out, acceptance)
    print(format_summary(summary))
    print(f"data: {len(run.images)} images, fingerprint {run.data_fingerprint}")
    if acceptance is not None:
        print("\n".join(acceptance_lines(acceptance)))
    print(f"report: {page}")
    unlit = sum(image.lighting is not None for image in run.images)
    if unlit:
        print(
            f"note: {unlit} image(s) lit unlike the model's good parts got the fail-safe verdict, "
            "as on a line (data.lit_unlike_good_parts in report.json)"
        )
    if run.unreadable:
        print(
            f"error: {len(run.unreadable)} image(s) could not be read: see report.json",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_NOT_ACCEPTED if acceptance is not None and not acceptance.passed else EXIT_OK


def _acceptance(args: argparse.Namespace, run, summary):  # noqa: ANN001, ANN202 - lazy types
    """The verdict on ``--max-false-rejects`` / ``--max-escapes``, or ``None`` without them."""
    from inspector.reports.acceptance import AcceptanceCriteria, judge

    if args.max_false_rejects is None and args.max_escapes is None:
        return None
    criteria = AcceptanceCriteria(args.max_false_rejects, args.max_escapes)
    return judge(
        criteria,
        run.images,
        run.rules,
        summary.false_reject_interval,
        summary.escape_interval,
        unreadable=len(run.unreadable),
    )


def format_summary(summary) -> str:  # noqa: ANN001 - reports.evaluation_report.QualitySummary
    """The figures a person wants on the terminal after an evaluation."""

    from inspector.reports.figure_text import number_or_na as num
    from inspector.reports.figure_text import percent_or_na as pct
    from inspector.reports.rate_interval import counted

    lines = [
        f"image AUROC {num(summary.image_auroc)}  pixel AUROC {num(summary.pixel_auroc)}  "
        f"AUPRO {num(summary.aupro)}",
        f"at threshold {summary.threshold:.6g}: false rejects {pct(summary.false_reject_rate)}"
        f"{counted(summary.false_reject_interval)}, "
        f"escapes {pct(summary.escape_rate)}{counted(summary.escape_interval)}",
        "  escapes by class: "
        + ", ".join(f"{k} {pct(v)}" for k, v in summary.escape_by_class.items()),
    ]
    if summary.pixel_auroc_by_class:
        lines.append(
            "  pixel AUROC by class: "
            + ", ".join(f"{k} {num(v)}" for k, v in summary.pixel_auroc_by_class.items())
        )
    lines += [
        f"escapes at {pct(p.false_reject_rate)} false rejects: {pct(p.escape_rate)}"
        f"{counted(p.escape_interval)} (threshold {p.threshold:.6g})"
        for p in summary.operating_points
    ]
    return "\n".join(lines)
