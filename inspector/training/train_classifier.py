"""Training a supervised defect classifier from a folder of labelled images.

``<class>/<stem>.<ext>`` images (``good`` is a class like the others) teach an
ImageNet-pretrained EfficientNet-Lite0 with a new head
(:class:`~inspector.ml.classifier.DefectClassifier`) to name the class of a
part. The weights of the epoch with the lowest validation loss are kept:
plain cross-entropy on the validation split, a smooth measure, where
macro-F1 on the handful of images a rare class has in a split jumps with
every single image. The validation figures stored in the package are then
measured through :class:`~inspector.ml.classifier_inference.ClassifierInferencer`,
the path every later prediction takes.

Training is repeatable: the same data, options and seed give the same
weights on the same machine (Python, numpy and torch are seeded, torch runs
deterministic algorithms, augmentation is seeded per sample). It can be
cancelled at any step, and nothing is written until it has finished: the
package appears complete or not at all.

On a CPU, run it on a worker thread: torch's convolutions are several times
slower on the process's main thread on some machines (see docs/architecture.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inspector.core.errors import SourceError
from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.ml.classifier_package import (
    ClassifierPackage,
    check_destination,
    save_classifier_package,
)
from inspector.ml.device import device_name, select_device
from inspector.ml.efficientnet_lite import INPUT_MEAN, INPUT_STD
from inspector.ml.package import check_name
from inspector.training import classifier_optim as optim
from inspector.training.augment import training_augmentation
from inspector.training.classifier_config import TrainConfig
from inspector.training.classifier_data import (
    auto_image_size,
    dataset_fingerprint,
    describe_counts,
    list_class_images,
    load_resized,
    stratified_split,
)
from inspector.training.classifier_metrics import ClassificationMetrics, classification_metrics
from inspector.training.classifier_trainer import FINE_TUNE, HEAD, ClassifierTrainer
from inspector.training.evaluate import LabelledImage
from inspector.training.training_plot import plot_training_curves
from inspector.training.training_run import (
    Cancel,
    Progress,
    TrainingCancelled,
    repeatable,
    reporter,
)

__all__ = ["CURVES_FILE", "TrainResult", "TrainingCancelled", "train_classifier"]

CURVES_FILE = "training_curves.png"
SELECTION = "lowest validation loss (plain cross-entropy)"


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    Attributes:
        package_dir: Where the package was saved.
        version: Its version string.
        classes: Class names in the model's output order.
        metrics: Validation figures of the kept weights, through the inference path.
        best_epoch: The epoch whose weights were kept.
        epochs_run: Epochs trained (fewer than planned when stopped early).
        stopped_early: Whether early stopping ended the run.
        seconds: Wall time of the whole run.
        device: Where it ran, named for people.
    """

    package_dir: Path
    version: str
    classes: tuple[str, ...]
    metrics: ClassificationMetrics
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    seconds: float
    device: str


def _splits(
    data_dir: Path, val_dir: Path | None, config: TrainConfig
) -> tuple[list[LabelledImage], list[LabelledImage], tuple[str, ...], str]:
    """Training and validation images, the classes, and where validation came from."""
    items = list_class_images(data_dir)
    classes = tuple(sorted({item.defect_class for item in items}))
    if val_dir is None:
        train, val = stratified_split(items, config.val_fraction, config.seed)
        return train, val, classes, f"{config.val_fraction:.0%} of each class (seed {config.seed})"
    val = list_class_images(val_dir)
    unknown = sorted({item.defect_class for item in val} - set(classes))
    if unknown:
        msg = (
            f"validation folder {val_dir} has classes {unknown} that {data_dir} lacks: "
            "the model cannot learn them; add training images or remove those folders"
        )
        raise SourceError(msg)
    return items, val, classes, f"folder {val_dir}"


@dataclass
class _Run:
    """The epochs' outcome: the kept weights and the curves."""

    best_loss: float = math.inf
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False


def _run_epochs(trainer: ClassifierTrainer, config: TrainConfig, report: Progress) -> _Run:
    """The head phase, then the fine-tuning phase, keeping the lowest-validation-loss weights.

    Early stopping applies to fine-tuning only (the head phase is cheap), and
    waits until every group the strategy trains has joined.
    """
    run = _Run(best_state=trainer.state())
    fine_tune = 0 if config.strategy == "frozen" else config.epochs
    phases = [(HEAD, e) for e in range(1, config.head_epochs + 1)]
    phases += [(FINE_TUNE, e) for e in range(1, fine_tune + 1)]
    complete = optim.schedule_complete_epoch(
        config.strategy, config.unfreeze_groups, trainer.head_trained
    )
    labels, classes = trainer.val_labels, trainer.classes
    steps = -(-len(trainer.train_labels) // config.batch_size)
    last_best = 0  # fine-tuning epoch of the last improvement
    for number, (phase, epoch) in enumerate(phases, start=1):
        clock = time.perf_counter()
        row: dict[str, Any] = {"epoch": number, **trainer.train_epoch(phase, epoch, number)}
        val_loss, predicted = trainer.validate(phase)
        metrics = classification_metrics(labels, predicted, classes)
        if val_loss < run.best_loss:
            run.best_loss, run.best_epoch, run.best_state = val_loss, number, trainer.state()
            last_best = epoch if phase == FINE_TUNE else 0
        row |= {
            "val_loss": val_loss,
            "val_accuracy": metrics.accuracy,
            "val_macro_f1": metrics.macro_f1,
            "seconds": round(time.perf_counter() - clock, 2),
        }
        run.curves.append(row)
        report(number, steps, steps, {"stage": "epoch", **row, "best_epoch": run.best_epoch})
        waited = epoch - max(last_best, complete - 1)
        if phase == FINE_TUNE and epoch >= complete and waited >= config.patience:
            run.stopped_early = epoch < fine_tune
            if run.stopped_early:
                break
    return run


def train_classifier(
    data_dir: str | Path,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    val_dir: str | Path | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> TrainResult:
    """Train a defect classifier on ``<class>/<stem>.<ext>`` images and save its package.

    Args:
        data_dir: Labelled training images (at least two classes).
        out_dir: Package folder to create (new or empty, or a package with ``overwrite``).
        config: Options; :class:`TrainConfig`'s defaults when ``None``.
        val_dir: Labelled validation images; when ``None`` a stratified
            ``config.val_fraction`` of ``data_dir`` is held out (seeded).
        progress: Called as described by :data:`Progress`.
        cancel: An event (or a function) checked at every step; when set,
            training stops with :class:`TrainingCancelled` and writes nothing.

    Raises:
        SourceError: a folder is missing, badly laid out, or has unreadable images.
        ValueError: an option is out of range, the model name is unusable, or
            ``out_dir`` cannot take a package.
        ModelPackageError: the ImageNet weights are missing or damaged.
        TrainingCancelled: ``cancel`` was set.
    """
    started = time.perf_counter()
    config = config or TrainConfig()
    config.check()
    out = Path(out_dir)
    name = config.name or out.name
    check_name(name)
    check_destination(out, overwrite=config.overwrite)
    report = reporter(progress, cancel)
    data = Path(data_dir)
    train_items, val_items, classes, val_source = _splits(
        data, Path(val_dir) if val_dir is not None else None, config
    )
    size_source = "given"
    if config.image_size is None:
        config = replace(config, image_size=auto_image_size(train_items))
        size_source = "the training images' median side, rounded up to 32, in 224..320"
    pipeline, augmentation = training_augmentation(
        config.augment_file, config.rotate, config.image_size
    )
    train_labels = np.array([classes.index(i.defect_class) for i in train_items], np.int64)
    val_labels = np.array([classes.index(i.defect_class) for i in val_items], np.int64)
    device = select_device(config.device)
    seconds: dict[str, float] = {}
    with repeatable(config.seed, device):
        clock = time.perf_counter()
        n_read = len(train_items) + len(val_items)
        train_images = load_resized(
            train_items,
            config.image_size,
            lambda done, _: report(0, done, n_read, {"stage": "read"}),
        )
        val_images = load_resized(
            val_items,
            config.image_size,
            lambda done, _: report(0, len(train_items) + done, n_read, {"stage": "read"}),
        )
        trainer = ClassifierTrainer(
            config,
            train_images,
            train_labels,
            val_images,
            val_labels,
            classes,
            pipeline,
            device,
            report,
        )
        seconds["read"], clock = time.perf_counter() - clock, time.perf_counter()
        trainer.build_cache()
        seconds["cache"], clock = time.perf_counter() - clock, time.perf_counter()
        run = _run_epochs(trainer, config, report)
        seconds["train"], clock = time.perf_counter() - clock, time.perf_counter()

    package = ClassifierPackage(
        name=name,
        classes=classes,
        state_dict=run.best_state,
        backbone_sha256=trainer.backbone_sha256,
        input_size=config.image_size,
        mean=INPUT_MEAN,
        std=INPUT_STD,
        dropout=config.dropout,
    )
    report(0, 0, 1, {"stage": "evaluate"})
    inferencer = ClassifierInferencer(package, device=str(device), max_batch=config.batch_size)
    probabilities = inferencer.probabilities(list(val_images))
    metrics = classification_metrics(val_labels, probabilities.argmax(1), classes)
    report(0, 1, 1, {"stage": "evaluate"})
    seconds["evaluate"] = time.perf_counter() - clock
    total_seconds = time.perf_counter() - started
    package = replace(
        package,
        metrics=metrics.to_dict(),
        training={
            "task": "classify",
            "options": config.to_dict(),
            "image_size_from": size_source,
            "augmentation": [spec.to_dict() for spec in augmentation],
            "balanced_sampler": trainer.balanced,
            "class_weights": trainer.class_weight,
            "cached_groups": trainer.cache_at,
            "selection": SELECTION,
            "head_epochs_run": sum(row["phase"] == HEAD for row in run.curves),
            "best_epoch": run.best_epoch,
            "best_val_loss": run.best_loss,
            "epochs_run": len(run.curves),
            "stopped_early": run.stopped_early,
            "device": device_name(device),
            "seconds": round(total_seconds, 1),
            "seconds_by_stage": {k: round(v, 1) for k, v in seconds.items()},
        },
        dataset={
            "fingerprint": dataset_fingerprint(data, train_items, val_items),
            "train_source": f"folder {data}",
            "val_source": val_source,
            "train_per_class": describe_counts(train_labels, classes),
            "val_per_class": describe_counts(val_labels, classes),
        },
        curves=tuple(run.curves),
    )
    png = plot_training_curves(run.curves, run.best_epoch)
    saved = save_classifier_package(
        package, out, extra_files={CURVES_FILE: png}, overwrite=config.overwrite
    )
    return TrainResult(
        package_dir=out,
        version=saved.version,
        classes=classes,
        metrics=metrics,
        best_epoch=run.best_epoch,
        epochs_run=len(run.curves),
        stopped_early=run.stopped_early,
        seconds=time.perf_counter() - started,
        device=device_name(device),
    )
