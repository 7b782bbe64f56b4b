"""Training a defect segmenter (``--task segment``) or box detector (``--task detect``).

``<class>/<stem>.<ext>`` images with same-stem masks (``good`` images may
have none: their mask is empty) teach a light decoder over the frozen,
ImageNet-pretrained EfficientNet-Lite0 (:class:`~inspector.ml.segmenter.DefectSegmenter`)
to draw where defects are. The weights of the epoch with the highest
validation mIoU (at the model's input size) are kept, the figure the package
reports: the validation loss follows it only loosely (its BCE rises when the
maps sharpen around small defects), and early stopping on the loss ended
runs while the mIoU was still climbing. The validation figures in the package
(:mod:`inspector.training.segment_metrics`) are then measured through
:class:`~inspector.ml.segmenter_inference.SegmenterInferencer` at each
image's own size, the path every later prediction takes.

**Detection is box-supervised segmentation**, not an anchor-based detector:
the boxes of a Pascal VOC import are filled into masks (as
``inspector dataset import --format voc`` writes them), one map per defect
class is learned from them, and the boxes are the connected regions of the
predicted map (:mod:`inspector.ml.segmenter_boxes`). An anchor-based
detector (Faster R-CNN, SSD, YOLO) would need its detection head trained from
scratch on a GPU for hours and weights from the network, which an offline
2-core line PC does not have; the segmenter reuses the cached frozen backbone
and trains in minutes. It does not separate touching defects of one class
(they become one box).

Repeatable, cancellable and all-or-nothing like classifier training
(:mod:`inspector.training.training_run`).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inspector.acquisition.image_files import read_image
from inspector.ml.device import device_name, select_device
from inspector.ml.efficientnet_lite import INPUT_MEAN, INPUT_STD
from inspector.ml.package_writer import check_destination, check_model_name
from inspector.ml.segmenter import pretrained_segmenter
from inspector.ml.segmenter_boxes import boxes_from_maps, mask_boxes
from inspector.ml.segmenter_inference import SegmenterInferencer
from inspector.ml.segmenter_package import SegmenterPackage, save_segmenter_package
from inspector.training.augment import training_augmentation
from inspector.training.classifier_data import dataset_fingerprint
from inspector.training.evaluate import LabelledImage
from inspector.training.segment_cache import check_cache_size, compute_cache, view_counts
from inspector.training.segment_config import SegmentConfig
from inspector.training.segment_data import (
    load_images_and_masks,
    output_names,
    read_mask,
    split_items,
    target_maps,
)
from inspector.training.segment_metrics import (
    MetricsAccumulator,
    SegmentationMetrics,
)
from inspector.training.segment_trainer import PEAK_WEIGHT, SegmenterTrainer
from inspector.training.training_plot import plot_training_curves
from inspector.training.training_run import Cancel, Progress, repeatable, reporter

CURVES_FILE = "training_curves.png"
SELECTION = (
    "highest validation mIoU at the input size (lowest validation loss without "
    "defective validation images)"
)
METRIC_DEFINITIONS = {
    "miou": "mean over defective validation images of the IoU of the predicted mask "
    "(probability >= threshold) with the true mask, at the image's own size",
    "pixel_auroc": "ROC AUC of every validation pixel's defect probability",
    "good_clean_rate": "share of good validation images without a predicted defect pixel",
    "box_precision/recall": "greedy matching of predicted to true boxes at IoU >= 0.5, "
    "any class (detect); true boxes are the connected regions of the masks",
}


@dataclass(frozen=True)
class SegmentResult:
    """What a segmenter training run produced.

    Attributes:
        package_dir: Where the package was saved.
        version: Its version string.
        task: ``segment`` or ``detect``.
        outputs: Names of the output maps.
        metrics: Validation figures of the kept weights, through the inference path.
        best_epoch: The epoch whose weights were kept.
        epochs_run: Epochs trained.
        stopped_early: Whether early stopping ended the run.
        seconds: Wall time of the whole run.
        device: Where it ran, named for people.
    """

    package_dir: Path
    version: str
    task: str
    outputs: tuple[str, ...]
    metrics: SegmentationMetrics
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    seconds: float
    device: str


def _fingerprint(root: Path, train: list[LabelledImage], val: list[LabelledImage]) -> str:
    """The classifier's image fingerprint extended by every mask's content."""
    digest = hashlib.sha256(dataset_fingerprint(root, train, val).encode())
    for item in sorted([*train, *val], key=lambda x: str(x.path)):
        if item.mask_path is not None:
            digest.update(hashlib.sha256(item.mask_path.read_bytes()).digest())
    return digest.hexdigest()


def _evaluate(
    inferencer: SegmenterInferencer, items: list[LabelledImage], config: SegmentConfig
) -> SegmentationMetrics:
    """Validation figures at each image's own size, through the inference path."""
    metrics = MetricsAccumulator(config.threshold, boxes=config.task == "detect")
    for start in range(0, len(items), config.batch_size):
        chunk = items[start : start + config.batch_size]
        images = [read_image(item.path) for item in chunk]
        for item, image, maps in zip(
            chunk, images, inferencer.probability_maps(images), strict=True
        ):
            mask = read_mask(item, image.shape[:2])
            predicted = (
                boxes_from_maps(maps, inferencer.outputs, config.threshold)
                if config.task == "detect"
                else []
            )
            metrics.add(
                item.defect_class, maps.max(axis=0), mask > 127, predicted, mask_boxes(mask)
            )
    return metrics.result()


def train_segmenter(
    data_dir: str | Path,
    out_dir: str | Path,
    config: SegmentConfig | None = None,
    *,
    val_dir: str | Path | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> SegmentResult:
    """Train a segmenter on ``<class>/<stem>.<ext>`` images with masks and save its package.

    Args:
        data_dir: Labelled training images; defective ones need masks.
        out_dir: Package folder to create (new or empty, or a package with ``overwrite``).
        config: Options; :class:`SegmentConfig`'s defaults when ``None``.
        val_dir: Labelled validation images; when ``None`` a stratified
            ``config.val_fraction`` of ``data_dir`` is held out (seeded).
        progress: Called as described by :data:`~inspector.training.training_run.Progress`.
        cancel: An event (or a function) checked at every step; when set,
            training stops with ``TrainingCancelled`` and writes nothing.

    Raises:
        SourceError: a folder is missing or badly laid out, images or masks
            are unreadable or missing.
        ValueError: an option is out of range, the model name is unusable, or
            ``out_dir`` cannot take a package.
        ModelPackageError: the ImageNet weights are missing or damaged.
        TrainingCancelled: ``cancel`` was set.
    """
    started = time.perf_counter()
    config = config or SegmentConfig()
    config.check()
    out = Path(out_dir)
    name = config.name or out.name
    check_model_name(name)
    check_destination(out, overwrite=config.overwrite)
    pipeline, augmentation = training_augmentation(
        config.augment_file, config.rotate, config.image_size
    )
    report = reporter(progress, cancel)
    data = Path(data_dir)
    train_items, val_items, val_source = split_items(
        data, Path(val_dir) if val_dir is not None else None, config.val_fraction, config.seed
    )
    outputs = output_names(train_items, config.task)
    train_maps, val_maps = target_maps(train_items, outputs), target_maps(val_items, outputs)
    device = select_device(config.device)
    counts = view_counts(train_maps, config.views)
    seconds: dict[str, float] = {}
    with repeatable(config.seed, device):
        model, backbone_sha = pretrained_segmenter(len(outputs))
        check_cache_size(config.image_size, int(counts.sum()) + len(val_items))
        clock = time.perf_counter()
        n_read = len(train_items) + len(val_items)
        train_images, train_masks = load_images_and_masks(
            train_items, config.image_size, lambda d, _: report(0, d, n_read, {"stage": "read"})
        )
        val_images, val_masks = load_images_and_masks(
            val_items,
            config.image_size,
            lambda d, _: report(0, len(train_items) + d, n_read, {"stage": "read"}),
        )
        seconds["read"], clock = time.perf_counter() - clock, time.perf_counter()
        model.to(device, memory_format=torch.channels_last)
        n_views = int(counts.sum()) + len(val_items)
        common = {"seed": config.seed, "mean": INPUT_MEAN, "std": INPUT_STD, "device": device}
        train_cache = compute_cache(
            model,
            train_images,
            train_masks,
            counts,
            pipeline=pipeline,
            batch_size=config.batch_size,
            step=lambda d, _: report(0, d, n_views, {"stage": "cache"}),
            **common,
        )
        val_cache = compute_cache(
            model,
            val_images,
            val_masks,
            np.ones(len(val_items), np.int64),
            pipeline=None,
            batch_size=config.batch_size,
            step=lambda d, _: report(0, int(counts.sum()) + d, n_views, {"stage": "cache"}),
            **common,
        )
        del train_images, val_images
        seconds["cache"], clock = time.perf_counter() - clock, time.perf_counter()
        trainer = SegmenterTrainer(
            config, model, train_cache, train_maps, val_cache, val_maps, device, report
        )
        initial_loss, _ = trainer.validate()  # the fresh decoder: what training improved on
        best_key, best_epoch, best_state = -math.inf, 0, trainer.state()
        best_loss, best_miou = initial_loss, None
        curves: list[dict[str, Any]] = []
        stopped_early = False
        for epoch in range(1, config.epochs + 1):
            clock_epoch = time.perf_counter()
            row: dict[str, Any] = {"epoch": epoch, **trainer.train_epoch(epoch)}
            val_loss, val_miou = trainer.validate()
            key = val_miou if val_miou is not None else -val_loss
            if key > best_key:
                best_key, best_epoch, best_state = key, epoch, trainer.state()
                best_loss, best_miou = val_loss, val_miou
            row |= {
                "val_loss": val_loss,
                "val_miou": val_miou,
                "seconds": round(time.perf_counter() - clock_epoch, 2),
            }
            curves.append(row)
            steps = len(trainer.epoch_rows(epoch))
            report(epoch, steps, steps, {"stage": "epoch", **row, "best_epoch": best_epoch})
            if epoch - best_epoch >= config.patience and epoch < config.epochs:
                stopped_early = True
                break
        seconds["train"], clock = time.perf_counter() - clock, time.perf_counter()

    package = SegmenterPackage(
        name=name,
        task=config.task,
        outputs=outputs,
        state_dict=best_state,
        backbone_sha256=backbone_sha,
        input_size=config.image_size,
        mean=INPUT_MEAN,
        std=INPUT_STD,
        default_threshold=config.threshold,
    )
    report(0, 0, 1, {"stage": "evaluate"})
    inferencer = SegmenterInferencer(package, device=str(device), max_batch=config.batch_size)
    metrics = _evaluate(inferencer, val_items, config)
    report(0, 1, 1, {"stage": "evaluate"})
    seconds["evaluate"] = time.perf_counter() - clock
    by_class = {
        "train_per_class": _count_classes(train_items),
        "val_per_class": _count_classes(val_items),
    }
    package = replace(
        package,
        metrics={**metrics.to_dict(), "definitions": METRIC_DEFINITIONS},
        training={
            "task": config.task,
            "options": config.to_dict(),
            "augmentation": [spec.to_dict() for spec in augmentation],
            "strategy": "frozen backbone, decoder trained on cached stage outputs",
            "loss": f"BCE + soft Dice per image and map + {PEAK_WEIGHT} x BCE of each map's peak",
            "selection": SELECTION,
            "best_epoch": best_epoch,
            "initial_val_loss": initial_loss,
            "best_val_loss": best_loss,
            "best_val_miou": best_miou,
            "epochs_run": len(curves),
            "stopped_early": stopped_early,
            "cached_views": int(counts.sum()),
            "device": device_name(device),
            "seconds": round(time.perf_counter() - started, 1),
            "seconds_by_stage": {k: round(v, 1) for k, v in seconds.items()},
        },
        dataset={
            "fingerprint": _fingerprint(data, train_items, val_items),
            "train_source": f"folder {data}",
            "val_source": val_source,
            **by_class,
        },
        curves=tuple(curves),
    )
    png = plot_training_curves(curves, best_epoch, score="miou")
    saved = save_segmenter_package(
        package, out, extra_files={CURVES_FILE: png}, overwrite=config.overwrite
    )
    return SegmentResult(
        package_dir=out,
        version=saved.version,
        task=config.task,
        outputs=outputs,
        metrics=metrics,
        best_epoch=best_epoch,
        epochs_run=len(curves),
        stopped_early=stopped_early,
        seconds=time.perf_counter() - started,
        device=device_name(device),
    )


def _count_classes(items: list[LabelledImage]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.defect_class] = counts.get(item.defect_class, 0) + 1
    return dict(sorted(counts.items()))
