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
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
    train.add_argument("--epochs", type=int, default=6, help="most fine-tuning epochs")
    train.add_argument("--patience", type=int, default=3, help="early-stopping patience")
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument(
        "--lr", type=float, help="learning rate of the head alone (AdamW 1e-2, SGD 1e-1)"
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
    train.add_argument("--image-size", type=int, default=320, help="square model input side")
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
    train.set_defaults(handler=run_train)


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
    return (
        f"epoch {epoch:3d} ({m['phase']}): "
        f"train loss {m['train_loss']:.4f} acc {m['train_accuracy']:.3f} | "
        f"val loss {m['val_loss']:.4f} acc {m['val_accuracy']:.3f} "
        f"macro-F1 {'n/a' if f1 is None else f'{f1:.3f}'} | {m['seconds']:.0f} s{kept}"
    )


_RENAMED = {"augment": "augment_file"}
"""Options whose ``TrainConfig`` field has another name."""


def _config(args: argparse.Namespace):  # noqa: ANN202 - training.classifier_config.TrainConfig
    """The training settings from the options: each option is the field of the same name.

    The parser states the defaults itself (so ``--help`` shows them without
    importing torch); a test checks they equal ``TrainConfig``'s.
    """
    from dataclasses import fields

    from inspector.training.classifier_config import TrainConfig

    given = {_RENAMED.get(key, key): value for key, value in vars(args).items()}
    return TrainConfig(**{f.name: given[f.name] for f in fields(TrainConfig)})


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
    """``inspector train``: 0 when a package was saved, 2 for a task not available yet."""
    if args.task != "classify":
        print(
            f"error: --task {args.task} is not yet available; only --task classify trains "
            "for now (segmentation and detection are planned)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    _prefer_passive_threads()
    from inspector.training.train_classifier import TrainingCancelled, train_classifier

    config = _config(args)
    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    with _Printer() as printer:

        def work() -> None:
            try:
                outcome["result"] = train_classifier(
                    args.data,
                    args.out,
                    config,
                    val_dir=args.val,
                    progress=printer,
                    cancel=cancel,
                )
            except BaseException as exc:  # re-raised on the main thread below
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="train-classifier")
        worker.start()
        try:
            while worker.is_alive():
                worker.join(timeout=0.2)
        except KeyboardInterrupt:
            cancel.set()
            print("interrupted: cancelling training (nothing is saved)...", file=sys.stderr)
            worker.join()
    if "error" in outcome:
        if isinstance(outcome["error"], TrainingCancelled) and cancel.is_set():
            print(f"{outcome['error']}", file=sys.stderr)
            return EXIT_INTERRUPTED
        raise outcome["error"]
    print(format_result(outcome["result"]))
    return EXIT_OK


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
        f"good-vs-defect accuracy {num(m.good_vs_defect_accuracy)}, "
        f"defect-class accuracy {num(m.defect_class_accuracy)}",
        "  class        precision  recall     F1  images",
    ]
    lines += [
        f"  {name:<12} {num(c.precision):>9} {num(c.recall):>7} {num(c.f1):>6} {c.support:>7}"
        for name, c in m.per_class.items()
    ]
    return "\n".join(lines)
