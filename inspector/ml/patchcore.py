"""PatchCore-style anomaly model: distance of each image patch to the nearest good patch.

Roth et al., "Towards Total Recall in Industrial Anomaly Detection" (2022),
simplified for a fixed, small backbone: mid-level EfficientNet-Lite0 features
(stride 8 and stride 16, i.e. local texture and small parts, not ImageNet
semantics) are locally averaged, brought to one resolution and concatenated
into one vector per patch. A memory bank holds such vectors from good parts
only; a patch's anomaly is its distance to the nearest bank vector.

The module returns raw scores and maps, never verdicts: thresholds belong to
``inspector.decision`` so they can change without touching a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from inspector.ml.efficientnet_lite import EfficientNetLite0, stage_channels, stage_stride

DEFAULT_LAYERS = (2, 4)
"""Stages 2 (40 ch, stride 8) and 4 (112 ch, stride 16) of EfficientNet-Lite0."""
DEFAULT_SIGMA = 4.0
"""Gaussian smoothing of the map, in input pixels, as in the PatchCore paper."""
SCORE_TOP_FRACTION = 0.01
"""Share of the map's highest values averaged into the image score of new fits.

On magnetic-tile ``val/`` it raised image AUROC from 0.853 (the maximum) to
0.889 at 224 px and from 0.735 to 0.822 at 320 px; 1 % of a 224 px map is
about a 22 px square, the size of a small defect there.
"""


class PatchCoreOutput(NamedTuple):
    """Raw result for a batch.

    Attributes:
        scores: ``(N,)`` image scores: the maximum of each smoothed map, or the
            mean of its highest ``score_top_fraction`` (see :class:`PatchCore`).
        maps: ``(N, S, S)`` smoothed anomaly maps at the model's input size.
    """

    scores: torch.Tensor
    maps: torch.Tensor


def feature_dim(layers: Sequence[int]) -> int:
    """Length of one patch vector for the given backbone stages."""
    return sum(stage_channels(stage) for stage in layers)


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian taps, 4 sigma either side (as ``scipy.ndimage``)."""
    radius = int(4.0 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    taps = torch.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


class PatchCore(nn.Module):
    """Frozen backbone + memory bank of good-patch features.

    Args:
        backbone: EfficientNet-Lite0 with its ImageNet weights loaded; frozen here.
        memory_bank: ``(M, D)`` good-patch features, or ``None`` while fitting
            (then only :meth:`embed` and :meth:`patch_features` work).
        layers: Backbone stages to take features from; the first sets the map resolution.
        sigma: Smoothing of the map in input pixels; 0 for none.
        max_distance_elements: Bound on the size of one patch-to-bank distance
            block, so memory stays flat whatever the batch and bank size.
        score_top_fraction: Image score as the mean of this share of the map's
            highest values (0 takes the maximum). A good part's maximum is one
            unlucky patch that the bank happens not to cover; the mean over a
            defect-sized area is steadier, so goods and defects separate better.
    """

    def __init__(
        self,
        backbone: EfficientNetLite0,
        memory_bank: torch.Tensor | None = None,
        *,
        layers: Sequence[int] = DEFAULT_LAYERS,
        sigma: float = DEFAULT_SIGMA,
        max_distance_elements: int = 1 << 24,
        score_top_fraction: float = 0.0,
    ) -> None:
        super().__init__()
        self.layers = tuple(layers)
        if not self.layers:
            msg = "PatchCore needs at least one backbone stage in layers"
            raise ValueError(msg)
        self.dim = feature_dim(self.layers)
        self.backbone = backbone.eval().requires_grad_(False)
        self.max_distance_elements = max_distance_elements
        self.sigma = float(sigma)
        if not 0.0 <= score_top_fraction < 1.0:
            msg = f"score_top_fraction must be in [0, 1), got {score_top_fraction}"
            raise ValueError(msg)
        self.score_top_fraction = float(score_top_fraction)
        self.register_buffer("kernel", gaussian_kernel(sigma) if sigma > 0 else torch.ones(1))
        self.register_buffer("memory_bank", torch.empty(0, self.dim))
        self.register_buffer("bank_sq", torch.empty(0))
        if memory_bank is not None:
            self.set_memory_bank(memory_bank)

    def train(self, mode: bool = True) -> PatchCore:
        """Keep the backbone in eval mode: its batch-norm statistics are ImageNet's."""
        super().train(mode)
        self.backbone.eval()
        return self

    def set_memory_bank(self, memory_bank: torch.Tensor) -> None:
        """Install good-patch features ``(M, D)`` (stored float32, on this module's device)."""
        if memory_bank.ndim != 2 or memory_bank.shape[1] != self.dim or memory_bank.shape[0] == 0:
            msg = (
                f"memory bank has shape {tuple(memory_bank.shape)}, expected (M, {self.dim}) "
                f"with M >= 1 for layers {self.layers}: refit the model"
            )
            raise ValueError(msg)
        bank = memory_bank.to(device=self.kernel.device, dtype=torch.float32).contiguous()
        self.memory_bank = bank
        self.bank_sq = (bank * bank).sum(dim=1)

    @property
    def stride(self) -> int:
        """Input pixels per map cell at feature resolution."""
        return stage_stride(self.layers[0])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patch features ``(N, D, h, w)`` of normalised images ``(N, 3, S, S)``.

        Each stage's output is averaged over a 3x3 neighbourhood (so a patch
        vector describes its surroundings, which makes it robust to small
        shifts) and resized to the first stage's resolution before concatenation.
        """
        maps = self.backbone.features(x, self.layers)
        size = maps[0].shape[-2:]
        parts = []
        for feature in maps:
            feature = F.avg_pool2d(feature, 3, stride=1, padding=1, count_include_pad=False)
            if feature.shape[-2:] != size:
                feature = F.interpolate(feature, size=size, mode="bilinear", align_corners=False)
            parts.append(feature)
        return torch.cat(parts, dim=1)

    def patch_features(self, x: torch.Tensor) -> torch.Tensor:
        """Patch features as rows ``(N * h * w, D)``, for filling a memory bank."""
        return self.embed(x).permute(0, 2, 3, 1).reshape(-1, self.dim)

    def nearest_distance(self, patches: torch.Tensor) -> torch.Tensor:
        """Euclidean distance of each row of ``patches`` ``(P, D)`` to its nearest bank row.

        Computed in float32 as ``|a|^2 - 2 a.b + |b|^2`` in blocks of rows, taking
        the minimum before the square root; autocast is switched off because
        float16 cancellation in that sum would swamp small distances.
        """
        if self.memory_bank.shape[0] == 0:
            msg = "this PatchCore has an empty memory bank: fit it before scoring images"
            raise RuntimeError(msg)
        with torch.autocast(device_type=patches.device.type, enabled=False):
            patches = patches.float()
            rows = max(1, self.max_distance_elements // self.memory_bank.shape[0])
            out = torch.empty(patches.shape[0], device=patches.device)
            bank_t = self.memory_bank.t()
            for start in range(0, patches.shape[0], rows):
                block = patches[start : start + rows]
                d2 = torch.addmm(self.bank_sq, block, bank_t, alpha=-2.0)
                out[start : start + rows] = d2.amin(dim=1) + (block * block).sum(dim=1)
        return out.clamp_min_(0.0).sqrt_()

    def smooth(self, maps: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur of ``(N, 1, H, W)`` maps; borders repeat the edge value."""
        if self.kernel.numel() == 1:
            return maps
        radius = self.kernel.numel() // 2
        kernel = self.kernel.to(maps.dtype)
        maps = F.pad(maps, (radius, radius, 0, 0), mode="replicate")
        maps = F.conv2d(maps, kernel.view(1, 1, 1, -1))
        maps = F.pad(maps, (0, 0, radius, radius), mode="replicate")
        return F.conv2d(maps, kernel.view(1, 1, -1, 1))

    def forward(self, x: torch.Tensor) -> PatchCoreOutput:
        """Score normalised images ``(N, 3, S, S)``.

        Returns:
            Image scores ``(N,)`` and smoothed maps ``(N, S, S)``, both float32;
            units are feature-space distances, comparable across images of one model.
        """
        features = self.embed(x)
        n, _, h, w = features.shape
        rows = features.permute(0, 2, 3, 1).reshape(-1, self.dim)
        # Distances, resizing and smoothing stay float32 under CUDA autocast: scores are
        # compared with a threshold, and float16 would round them to 3 significant digits.
        with torch.autocast(device_type=x.device.type, enabled=False):
            cells = self.nearest_distance(rows).view(n, 1, h, w)
            maps = F.interpolate(cells, size=x.shape[-2:], mode="bilinear", align_corners=False)
            maps = self.smooth(maps).squeeze(1)
        return PatchCoreOutput(scores=self.image_scores(maps), maps=maps)

    def image_scores(self, maps: torch.Tensor) -> torch.Tensor:
        """Image scores ``(N,)`` of smoothed maps ``(N, H, W)``."""
        cells = maps.flatten(1)
        if self.score_top_fraction == 0.0:
            return cells.amax(dim=1)
        k = max(1, round(self.score_top_fraction * cells.shape[1]))
        return cells.topk(k, dim=1, sorted=False).values.mean(dim=1)


def check_input_size(input_size: int, layers: Sequence[int]) -> None:
    """Refuse input sizes too small for the deepest stage to see more than one cell.

    Raises:
        ValueError: naming the smallest size that works.
    """
    deepest = max(stage_stride(stage) for stage in layers)
    smallest = 2 * deepest
    if input_size < smallest or input_size % 8:
        msg = (
            f"input size {input_size} does not suit layers {tuple(layers)}: use a multiple "
            f"of 8 of at least {smallest} (224 is the backbone's native size)"
        )
        raise ValueError(msg)
