"""The ``train`` subcommand of ``inspector``: supervised models from labelled images.

Kept apart from :mod:`inspector.cli`; the main parser calls
:func:`add_train_commands` and dispatches to ``args.handler``. Heavy imports
(torch) happen inside the handler, so ``inspector --help`` stays fast.

Training runs on a worker thread while the main thread waits: on some
machines torch's CPU convolutions are several times slower on a process's
main thread (see docs/architecture.md), and the main thread stays free to
turn Ctrl-C into a clean cancel (nothing is written).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inspector.training.progress_lines import progress_line, saved_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
HEAD_LINE_EVERY = 10
"""Head-phase epochs take a second each: print one line in this many."""
TASKS = ("classify", "segment", "detect")


def add_train_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` to the ``inspector`` parser's subcommands."""
    train = subparsers.add_parser(
        "train",
        help="train a supervised model from labelled images (<class>/<stem>.jpg)",
        description="Fine-tune an ImageNet-pretrained EfficientNet-Lite0 on labelled images "
        "and save a model package with its validation metrics and training curves. "
        "classify names each image's class; segment draws a defect mask (from <stem>.png "
        "masks); detect finds boxes per defect class (box-supervised segmentation, trained "
        "on the filled boxes of an `inspector dataset import --format voc` folder). "
        "The defaults are meant to work: try them before the options.",
    )
    train.add_argument("--data", required=True, type=Path, help="labelled folder <class>/<stem>")
    train.add_argument("--val", type=Path, help="labelled validation folder (default: a split)")
    train.add_argument("--task", required=True, choices=TASKS, help="what the model learns")
    train.add_argument("--out", required=True, type=Path, help="model package folder to write")
    train.add_argument("--val-fraction", type=float, default=0.2, help="held out per class")
    train.add_argument("--strategy", default="frozen", choices=["frozen", "gradual", "full"])
    train.add_argument(
        "--unfreeze-groups", type=int, default=3, help="backbone groups gradual unfreezes (1-6)"
    )
    train.add_argument(
        "--head-epochs", type=int, default=80, help="epochs of the head alone (cheap, cached)"
    )
    train.add_argument(
        "--epochs",
        type=int,
        help="most epochs: classify's fine-tuning epochs (default 6); segment/detect (30)",
    )
    train.add_argument(
        "--patience", type=int, help="early-stopping patience (classify 3, segment/detect 6)"
    )
    train.add_argument("--batch-size", type=int, help="(classify 16, segment/detect 8)")
    train.add_argument(
        "--lr",
        type=float,
        help="learning rate: classify's head alone (AdamW 1e-2, SGD 1e-1); "
        "segment/detect's decoder (AdamW 3e-3, SGD 3e-2)",
    )
    train.add_argument(
        "--threshold",
        type=float,
        help="segment/detect: probability a pixel needs to count as defect (0.5)",
    )
    train.add_argument(
        "--backbone-lr-factor", type=float, default=0.02, help="fine-tuning rate: lr x this"
    )
    train.add_argument("--optimizer", default="adamw", choices=["adamw", "sgd"])
    train.add_argument("--weight-decay", type=float, help="(AdamW 1e-2, SGD 1e-4)")
    train.add_argument("--loss", default="ce", choices=["ce", "focal"])
    train.add_argument("--class-weights", default="inverse", choices=["inverse", "none"])
    train.add_argument("--sampler", default="auto", choices=["auto", "balanced", "shuffle"])
    train.add_argument("--dropout", type=float, default=0.2)
    train.add_argument(
        "--image-size",
        type=int,
        help="square model input side (classify: the images' median side rounded up to 32, "
        "224-320; segment/detect 320)",
    )
    train.add_argument("--rotate", action="store_true", help="allow 90-degree rotations")
    train.add_argument("--augment", type=Path, help="augmentation pipeline (JSON or TOML)")
    train.add_argument(
        "--views",
        type=int,
        default=2,
        help="versions of each image (itself + augmented) run once through the frozen "
        "layers; 0: none cached, every step from the images (slow)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    train.add_argument("--workers", type=int, default=0, help="augmentation worker processes")
    train.add_argument("--name", help="model name in its version string (default: --out's name)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing package")
    train.add_argument(
        "--progress-json",
        action="store_true",
        help="also write progress as one JSON object per line on stdout (for the GUI)",
    )
    train.set_defaults(handler=run_train)
    train.set_defaults(
        parser_defaults={k: train.get_default(k) for k in CLASSIFY_ONLY + SEGMENT_ONLY}
    )


class _Printer:
    """Shows training progress: a rich progress bar on a terminal, plain lines otherwise."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._stage: tuple[str, int] | None = None
        self._head_epochs = 0
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> _Printer:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def __call__(self, epoch: int, step: int, total: int, metrics: Mapping[str, Any]) -> None:
        stage = str(metrics.get("stage"))
        if stage == "epoch":
            self._head_epochs += metrics["phase"] == "head"
            if metrics["phase"] != "head" or self._head_epochs % HEAD_LINE_EVERY == 0:
                self._line(_epoch_line(epoch, metrics))
            return
        label = {"read": "reading images", "cache": "caching frozen layers"}.get(
            stage, f"epoch {epoch}" if stage == "train" else stage
        )
        info = f"loss {metrics['train_loss']:.4f}" if "train_loss" in metrics else ""
        if self._bar is None:
            if step == total and stage != "train":
                self._line(f"{label}: {total}/{total}")
            return
        if self._stage != (stage, epoch):
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task = self._bar.add_task(label, total=total, info=info)
            self._stage = (stage, epoch)
        self._bar.update(self._task, completed=step, total=total, info=info)


def _epoch_line(epoch: int, m: Mapping[str, Any]) -> str:
    f1 = m.get("val_macro_f1")
    kept = " *" if m.get("best_epoch") == epoch else ""
    if "val_miou" in m:
        miou = m["val_miou"]
        return (
            f"epoch {epoch:3d} ({m['phase']}): train loss {m['train_loss']:.4f} | "
            f"val loss {m['val_loss']:.4f} mIoU {'n/a' if miou is None else f'{miou:.3f}'} "
            f"(input size) | {m['seconds']:.0f} s{kept}"
        )
    return (
        f"epoch {epoch:3d} ({m['phase']}): "
        f"train loss {m['train_loss']:.4f} acc {m['train_accuracy']:.3f} | "
        f"val loss {m['val_loss']:.4f} acc {m['val_accuracy']:.3f} "
        f"macro-F1 {'n/a' if f1 is None else f'{f1:.3f}'} | {m['seconds']:.0f} s{kept}"
    )


_RENAMED = {"augment": "augment_file"}
"""Options whose ``TrainConfig`` field has another name."""


CLASSIFY_ONLY = (
    "strategy",
    "unfreeze_groups",
    "head_epochs",
    "backbone_lr_factor",
    "loss",
    "class_weights",
    "sampler",
    "dropout",
    "workers",
)
"""Options segment/detect do not have: their backbone stays frozen, their loss is Dice + BCE."""
SEGMENT_ONLY = ("threshold",)


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The options as config field names, those left to a per-task default (``None``) dropped."""
    return {_RENAMED.get(k, k): v for k, v in vars(args).items() if v is not None}


def _config(args: argparse.Namespace):  # noqa: ANN202 - training.classifier_config.TrainConfig
    """The classifier's settings from the options: each option is the field of the same name.

    The parser states the defaults itself (so ``--help`` shows them without
    importing torch), or none where the tasks differ; a test checks they
    equal ``TrainConfig``'s.
    """
    from dataclasses import fields

    from inspector.training.classifier_config import TrainConfig

    given = _given(args)
    return TrainConfig(**{f.name: given[f.name] for f in fields(TrainConfig) if f.name in given})


def _segment_config(args: argparse.Namespace):  # noqa: ANN202 - training.segment_config.SegmentConfig
    """The segmenter's settings from the options (same names as its fields)."""
    from dataclasses import fields

    from inspector.training.segment_config import SegmentConfig

    given = _given(args)
    return SegmentConfig(
        **{f.name: given[f.name] for f in fields(SegmentConfig) if f.name in given}
    )


def _misplaced_options(args: argparse.Namespace, parser_defaults: Mapping[str, Any]) -> list[str]:
    """Options given that ``args.task`` does not have (they would be ignored)."""
    foreign = SEGMENT_ONLY if args.task == "classify" else CLASSIFY_ONLY
    return [
        f"--{key.replace('_', '-')}"
        for key in foreign
        if getattr(args, key) != parser_defaults.get(key)
    ]


def _prefer_passive_threads() -> None:
    """Let torch's idle OpenMP threads sleep instead of spinning (unless the user chose).

    On a machine whose cores are shared with other work, spinning threads
    wait for a partner the scheduler has put aside; measured on a busy 2-core
    machine, a forward pass took up to twice as long as with passive waiting.
    Only effective before torch is first imported (OpenMP reads it at start).
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run_train(args: argparse.Namespace) -> int:
    """``inspector train``: 0 when a package was saved, 2 for options the task does not have."""
    misplaced = _misplaced_options(args, getattr(args, "parser_defaults", {}))
    if misplaced:
        hint = (
            "segment/detect train a decoder on a frozen backbone with Dice + BCE"
            if args.task != "classify"
            else "they are for --task segment/detect"
        )
        print(
            f"error: --task {args.task} has no {', '.join(misplaced)} ({hint}): remove them",
            file=sys.stderr,
        )
        return EXIT_USAGE
    _prefer_passive_threads()
    if args.task == "classify":
        from inspector.training.train_classifier import train_classifier

        config, train, show = _config(args), train_classifier, format_result
    else:
        from inspector.training.train_segmenter import train_segmenter

        config, train, show = _segment_config(args), train_segmenter, format_segment_result
    return _run_in_worker(args, train, config, show)


def _run_in_worker(args: argparse.Namespace, train: Any, config: Any, show: Any) -> int:
    """Run ``train`` on a worker thread, Ctrl-C cancelling it cleanly; print ``show(result)``."""
    from inspector.training.training_run import TrainingCancelled

    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    with _Printer() as printer:
        progress = _json_progress(printer) if args.progress_json else printer

        def work() -> None:
            try:
                outcome["result"] = train(
                    args.data,
                    args.out,
                    config,
                    val_dir=args.val,
                    progress=progress,
                    cancel=cancel,
                )
            except BaseException as exc:  # re-raised on the main thread below
                outcome["error"] = exc

        worker = threading.Thread(target=work, name=f"train-{args.task}")
        with _sigint_cancels(cancel):
            worker.start()
            while worker.is_alive():
                worker.join(timeout=0.2)
    if "error" in outcome:
        if isinstance(outcome["error"], TrainingCancelled) and cancel.is_set():
            print(f"{outcome['error']}", file=sys.stderr)
            return EXIT_INTERRUPTED
        raise outcome["error"]
    if args.progress_json:
        result = outcome["result"]
        print(saved_line(str(result.package_dir), result.version), flush=True)
    print(show(outcome["result"]))
    return EXIT_OK


@contextmanager
def _sigint_cancels(cancel: threading.Event) -> Iterator[None]:
    """Ctrl-C (or the GUI's Cancel, which sends SIGINT) sets ``cancel`` instead of raising.

    A ``KeyboardInterrupt`` raised inside ``Thread.join`` can leave the thread
    looking finished while it still runs (seen on Python 3.11: the process
    then aborted, or read a result that was never made); a handler that only
    sets the event never interrupts the join. It also overrides a SIGINT that a
    parent process chose to ignore.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set on the main thread
        return

    def interrupted(signum: int, frame: object) -> None:
        if not cancel.is_set():
            print("interrupted: cancelling training (nothing is saved)...", file=sys.stderr)
        cancel.set()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _json_progress(printer: _Printer):  # noqa: ANN202 - the trainers' progress callable
    """The printer's progress, plus each call as a JSON line on stdout (for the GUI)."""

    def progress(epoch: int, step: int, total: int, metrics: Mapping[str, Any]) -> None:
        printer(epoch, step, total, metrics)
        print(progress_line(epoch, step, total, metrics), flush=True)

    return progress


def format_segment_result(result) -> str:  # noqa: ANN001 - training.train_segmenter.SegmentResult
    """The figures a person wants on the terminal after segmenter training."""
    m = result.metrics

    def num(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    stop = "stopped early" if result.stopped_early else "all epochs"
    lines = [
        f"saved model {result.version} to {result.package_dir}",
        f"task {result.task}, output maps: {', '.join(result.outputs)}",
        f"kept epoch {result.best_epoch} of {result.epochs_run} ({stop}); "
        f"{result.seconds:.0f} s on {result.device}",
        f"validation ({m.images} images, {m.defect_images} defective, threshold {m.threshold}): "
        f"mIoU of defect masks {num(m.miou)}, pixel AUROC {num(m.pixel_auroc)}, "
        f"good images with no defect pixel {num(m.good_clean_rate)}",
    ]
    lines += [f"  IoU {name:<12} {num(iou)}" for name, iou in m.iou_by_class.items()]
    if result.task == "detect":
        lines.append(
            f"boxes at IoU 0.5: precision {num(m.box_precision)}, recall {num(m.box_recall)} "
            f"({m.boxes_predicted} predicted, {m.boxes_true} true), "
            f"class accuracy of matched boxes {num(m.box_class_accuracy)}"
        )
    return "\n".join(lines)


def format_result(result) -> str:  # noqa: ANN001 - training.train_classifier.TrainResult
    """The figures a person wants on the terminal after training."""
    m = result.metrics

    def num(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    stop = "stopped early" if result.stopped_early else "all epochs"
    lines = [
        f"saved model {result.version} to {result.package_dir}",
        f"kept epoch {result.best_epoch} of {result.epochs_run} ({stop}); "
        f"{result.seconds:.0f} s on {result.device}",
        f"validation ({m.count} images): accuracy {num(m.accuracy)}, macro-F1 {num(m.macro_f1)}, "
        + (
            f"good-vs-defect accuracy {num(m.good_vs_defect_accuracy)}, "
            f"defect-class accuracy {num(m.defect_class_accuracy)}"
            if "good" in m.classes
            else "no 'good' class: every class is a defect, so good-vs-defect and "
            "defect-class accuracy do not apply (accuracy is the class accuracy)"
        ),
        "  class        precision  recall     F1  images",
    ]
    lines += [
        f"  {name:<12} {num(c.precision):>9} {num(c.recall):>7} {num(c.f1):>6} {c.support:>7}"
        for name, c in m.per_class.items()
    ]
    return "\n".join(lines)
