"""Options of segmenter training (``--task segment`` and ``--task detect``), with their defaults.

The backbone stays frozen (ImageNet EfficientNet-Lite0) and only the small
decoder learns, on stage outputs computed once per view of each image
(:mod:`inspector.training.segment_cache`): on a 2-core CPU a pass through
the backbone costs several times a decoder step, and a few hundred labelled
images over-fit a fine-tuned backbone (as measured for the classifier, see
:mod:`inspector.training.classifier_config`). Defaults:

* 320 px input (magnetic-tile's median image is about 315 px square: thin
  cracks survive), 2 views of each defective image (itself and one
  augmented), good images once (they only show background, which every
  defective image shows as well, and they are most of a set);
* AdamW at 3e-3 with a cosine schedule, batches of 8, at most 30 epochs,
  keeping the epoch of highest validation mIoU and stopping after 6
  without a higher one; loss BCE + Dice per image + a peak term
  (:mod:`inspector.training.segment_trainer`). Measured on magnetic-tile
  (train -> val, mIoU of defect masks at the image size): Dice over the
  batch and the lowest validation loss kept 0.57; Dice per image 0.65 but
  only 54% of good images free of defect pixels; these defaults 0.64
  (crack 0.28 -> 0.44) with 89% of good images clean, 6.5 minutes on a
  2-core CPU shared with other work (load 4.5-6).

Tried on a split of train/ and not kept: 384 px input (no higher mIoU by
epoch 16, 1.5x the time), a decoder 1.5x as wide (0.565 vs 0.569 at epoch
25), a threshold other than 0.5 (0.3-0.7 within 0.01 of it), averaging
with the mirrored image (+0.006 for twice the inference).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

OPTIMIZERS = ("adamw", "sgd")
DEFAULT_LR = {"adamw": 3e-3, "sgd": 3e-2}
DEFAULT_WEIGHT_DECAY = {"adamw": 1e-2, "sgd": 1e-4}


@dataclass(frozen=True)
class SegmentConfig:
    """Everything that shapes a segmenter training run.

    Attributes:
        task: ``segment`` (one defect-vs-background map) or ``detect`` (one
            map per defect class, boxes from its regions).
        epochs: Most epochs; early stopping may end sooner.
        patience: Epochs without a higher validation mIoU before stopping.
        batch_size: Images per step.
        lr: Learning rate; ``None`` for the optimizer's default (AdamW 3e-3, SGD 3e-2).
        optimizer: ``adamw`` or ``sgd`` (Nesterov momentum 0.9).
        weight_decay: ``None`` for the optimizer's default (AdamW 1e-2, SGD 1e-4).
        image_size: Side of the square model input, in pixels.
        rotate: Add 90-degree rotations to the default augmentation.
        augment_file: JSON/TOML augmentation pipeline replacing the default.
        views: Versions of each defective image (itself, then augmented) run
            once through the backbone; good images get one.
        threshold: Probability a pixel needs to count as defect (the package's
            default threshold and the one the metrics use).
        val_fraction: Share of each class held out when no validation folder is given.
        seed: Seeds the split, the sampling, augmentation and the decoder's start.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        name: Model name in the version string; the output folder's name when ``None``.
        overwrite: Replace a package already in the output folder.
    """

    task: str = "segment"
    epochs: int = 30
    patience: int = 6
    batch_size: int = 8
    lr: float | None = None
    optimizer: str = "adamw"
    weight_decay: float | None = None
    image_size: int = 320
    rotate: bool = False
    augment_file: Path | None = None
    views: int = 2
    threshold: float = 0.5
    val_fraction: float = 0.2
    seed: int = 0
    device: str = "auto"
    name: str | None = None
    overwrite: bool = False

    @property
    def learning_rate(self) -> float:
        """The learning rate, the optimizer's default filled in."""
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @property
    def decay(self) -> float:
        """The weight decay, the optimizer's default filled in."""
        if self.weight_decay is not None:
            return self.weight_decay
        return DEFAULT_WEIGHT_DECAY[self.optimizer]

    def check(self) -> None:
        """Refuse options out of range, naming the option and what it accepts.

        Raises:
            ValueError: an option is out of range or not one of its choices.
        """
        for key, allowed in (("task", ("segment", "detect")), ("optimizer", OPTIMIZERS)):
            if getattr(self, key) not in allowed:
                msg = f"{key} {getattr(self, key)!r} is not one of {', '.join(allowed)}"
                raise ValueError(msg)
        ranges = [
            ("epochs", self.epochs >= 1, "1 or more"),
            ("patience", self.patience >= 1, "1 or more"),
            ("batch_size", self.batch_size >= 2, "2 or more (batch norm needs 2)"),
            ("lr", self.lr is None or self.lr > 0, "a positive number"),
            ("weight_decay", self.weight_decay is None or self.weight_decay >= 0, "0 or more"),
            (
                "image_size",
                64 <= self.image_size <= 1024 and self.image_size % 32 == 0,
                "64..1024 pixels, a multiple of 32",
            ),
            ("views", self.views >= 1, "1 or more"),
            ("threshold", 0 < self.threshold < 1, "in (0, 1)"),
            ("val_fraction", 0 < self.val_fraction < 1, "between 0 and 1"),
        ]
        for key, ok, expected in ranges:
            if not ok:
                msg = f"{key} is {getattr(self, key)!r}, expected {expected}"
                raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready options, for the package's training summary."""
        out = asdict(self)
        out["augment_file"] = str(self.augment_file) if self.augment_file else None
        out["lr"], out["weight_decay"] = self.learning_rate, self.decay
        return out
