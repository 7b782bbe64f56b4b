"""The defect segmenter: a light FPN decoder over EfficientNet-Lite0 stages.

A plain ``nn.Module`` returning raw logits, one map per output channel, at the
input's size; turning probabilities into regions and verdicts is the job of
``inspector.decision``. The backbone is the ImageNet-pretrained
:class:`~inspector.ml.efficientnet_lite.EfficientNetLite0`, read at four
stages (:data:`FEATURE_STAGES`: strides 4, 8, 16 and 32). The decoder is a
small feature pyramid (Lin et al., 2017): each stage is projected to
:data:`DECODER_CHANNELS`, the deeper ones are added top-down into stride 8,
smoothed by one (separable) 3x3 convolution, then joined with the stride-4 stage (thin
cracks and small blowholes are a few pixels wide: stride 8 alone rounds them
away) and predicted there. Logits are upsampled bilinearly to the input.

Training keeps the backbone frozen and runs it once per view of an image
(:mod:`inspector.training.segment_cache`), so the model is split into
:meth:`DefectSegmenter.features` and :meth:`DefectSegmenter.decode`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from inspector.ml.efficientnet_lite import EfficientNetLite0, load_imagenet_weights, stage_channels

FEATURE_STAGES: tuple[int, ...] = (1, 2, 4, 6)
"""Backbone stages the decoder reads: strides 4, 8, 16 and 32."""
DECODER_CHANNELS = 64
"""Width of the pyramid at strides 8-32."""
FINE_CHANNELS = 32
"""Width at stride 4, where every channel costs 4 times as much."""


def _separable(in_ch: int, out_ch: int) -> nn.Sequential:
    """3x3 depthwise, 1x1 pointwise, batch norm, ReLU: a 3x3 convolution at ~1/8 of the cost.

    The decoder is trained on a CPU on every epoch's images, and at stride 4
    a full 3x3 convolution cost more than the rest of the decoder together.
    """
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch, bias=False),
        nn.Conv2d(in_ch, out_ch, 1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class SegmentationDecoder(nn.Module):
    """Feature-pyramid decoder from the :data:`FEATURE_STAGES` outputs to logits at stride 4.

    Args:
        num_outputs: Output maps (1 for defect-vs-background, else one per defect class).
    """

    def __init__(self, num_outputs: int) -> None:
        super().__init__()
        if num_outputs < 1:
            msg = f"a segmenter needs at least 1 output map, got {num_outputs}"
            raise ValueError(msg)
        fine, *coarse = (stage_channels(s) for s in FEATURE_STAGES)
        self.lateral = nn.ModuleList(nn.Conv2d(c, DECODER_CHANNELS, 1) for c in coarse)
        self.smooth = _separable(DECODER_CHANNELS, DECODER_CHANNELS)
        self.fine_lateral = nn.Conv2d(fine, FINE_CHANNELS, 1)
        self.reduce = nn.Conv2d(DECODER_CHANNELS, FINE_CHANNELS, 1)
        self.fuse = _separable(2 * FINE_CHANNELS, FINE_CHANNELS)
        self.predict = nn.Conv2d(FINE_CHANNELS, num_outputs, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits ``(N, num_outputs, H/4, W/4)`` from the four stage outputs, finest first."""
        fine, *coarse = features
        x = self.lateral[-1](coarse[-1])
        for lateral, feature in zip(self.lateral[-2::-1], coarse[-2::-1], strict=True):
            x = lateral(feature) + F.interpolate(x, size=feature.shape[-2:], mode="nearest")
        x = self.reduce(self.smooth(x))
        x = F.interpolate(x, size=fine.shape[-2:], mode="bilinear", align_corners=False)
        return self.predict(self.fuse(torch.cat([x, self.fine_lateral(fine)], dim=1)))


class DefectSegmenter(nn.Module):
    """EfficientNet-Lite0 stages and a :class:`SegmentationDecoder`.

    Args:
        num_outputs: Output maps (see :class:`SegmentationDecoder`).
        backbone: An EfficientNet-Lite0 to build on (with ImageNet weights for
            training, see :func:`pretrained_segmenter`); a new one when ``None``
            (for loading a package). Its head and ImageNet classifier are
            removed: the decoder stops at stage 6.
    """

    def __init__(self, num_outputs: int, backbone: EfficientNetLite0 | None = None) -> None:
        super().__init__()
        self.backbone = backbone if backbone is not None else EfficientNetLite0()
        self.backbone.head = nn.Identity()
        self.backbone.classifier = nn.Identity()
        self.decoder = SegmentationDecoder(num_outputs)

    @property
    def num_outputs(self) -> int:
        """Number of output maps."""
        return self.decoder.predict.out_channels

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The :data:`FEATURE_STAGES` outputs for normalised images ``(N, 3, H, W)``."""
        return self.backbone.features(x, FEATURE_STAGES)

    def decode(self, features: Sequence[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        """Logits ``(N, num_outputs, *size)`` from :meth:`features`' output."""
        logits = self.decoder(features)
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw logits ``(N, num_outputs, H, W)`` for normalised images ``(N, 3, H, W)``."""
        return self.decode(self.features(x), (x.shape[-2], x.shape[-1]))


def pretrained_segmenter(
    num_outputs: int, weights: str | Path | None = None
) -> tuple[DefectSegmenter, str]:
    """A segmenter on ImageNet-pretrained EfficientNet-Lite0 with a fresh decoder.

    The decoder is initialised from torch's global generator: seed it first
    for a repeatable model.

    Returns:
        The model and the SHA-256 of the backbone weights it started from.

    Raises:
        ModelPackageError: the ImageNet weights are missing or damaged.
    """
    backbone = EfficientNetLite0()
    sha256 = load_imagenet_weights(backbone, weights)
    return DefectSegmenter(num_outputs, backbone), sha256
