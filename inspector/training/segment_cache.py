"""The frozen backbone's stage outputs, computed once per view of each image.

With the backbone frozen its outputs for a given input never change, and on a
CPU the backbone costs several times a decoder step, so each view (view 0 the
image itself, the others augmented with their mask moved alike) is run once
and its :data:`~inspector.ml.segmenter.FEATURE_STAGES` outputs kept as
``float16`` (the rounding is far below the augmentation's own variation);
every epoch then trains the decoder on cached views. The same idea as the
classifier's :mod:`inspector.training.prefix_cache`, for four outputs and a
mask per view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import albumentations as A
import numpy as np
import torch

from inspector.ml.device import inference_context
from inspector.ml.efficientnet_lite import stage_channels, stage_stride
from inspector.ml.preprocess import preprocess
from inspector.ml.segmenter import FEATURE_STAGES, DefectSegmenter
from inspector.training.augment import augment

MAX_CACHE_BYTES = 8 * 2**30
"""A cache larger than this is refused (with what to change) rather than exhausting memory."""


@dataclass(frozen=True)
class FeatureCache:
    """Cached views: stage outputs, masks, and which image each view is of.

    Attributes:
        features: One ``float16`` tensor ``(M, C, h, w)`` per feature stage.
        masks: Soft masks ``uint8`` ``(M, S, S)``, moved with each view.
        owner: Index of the image each view is of, ``(M,)``.
    """

    features: list[torch.Tensor]
    masks: torch.Tensor
    owner: np.ndarray

    def batch(self, rows: Sequence[int], device: torch.device) -> list[torch.Tensor]:
        """The stage outputs of ``rows`` as ``float32`` on ``device``."""
        index = torch.as_tensor(list(rows))
        return [f[index].to(device, torch.float32) for f in self.features]


def view_counts(targets: np.ndarray, views: int) -> np.ndarray:
    """Views per image: ``views`` for a defective one (target >= 0), one for a good one."""
    return np.where(targets >= 0, views, 1)


def check_cache_size(image_size: int, count: int) -> None:
    """Refuse a cache of ``count`` views larger than :data:`MAX_CACHE_BYTES`.

    Raises:
        ValueError: the cache would not fit, with the options that shrink it.
    """
    sides = [-(-image_size // stage_stride(s)) for s in FEATURE_STAGES]
    per_view = 2 * sum(
        stage_channels(s) * side**2 for s, side in zip(FEATURE_STAGES, sides, strict=True)
    )
    per_view += image_size * image_size
    if per_view * count > MAX_CACHE_BYTES:
        msg = (
            f"the cached backbone outputs would take {per_view * count / 2**30:.1f} GiB "
            f"({count} views at {image_size} px), more than {MAX_CACHE_BYTES / 2**30:.0f} GiB: "
            "lower --views or --image-size"
        )
        raise ValueError(msg)


def compute_cache(
    model: DefectSegmenter,
    images: np.ndarray,
    masks: np.ndarray,
    counts: np.ndarray,
    *,
    pipeline: A.Compose | None,
    seed: int,
    mean: Sequence[float],
    std: Sequence[float],
    device: torch.device,
    batch_size: int,
    step: Callable[[int, int], None],
) -> FeatureCache:
    """Run the frozen backbone on ``counts[i]`` views of each image.

    Args:
        model: The segmenter; its backbone is run in eval mode.
        images: Resized ``uint8`` images ``(N, S, S, 3)``.
        masks: Their soft masks ``(N, S, S)``.
        counts: Views per image (see :func:`view_counts`).
        pipeline: Augmentation for views after the first, or ``None``.
        seed: Seeds each view's augmentation (per image and view).
        mean: Normalisation mean.
        std: Normalisation standard deviation.
        device: Where to run.
        batch_size: Views per forward pass.
        step: Called as ``step(done, total)`` after each batch (it may raise to cancel).
    """
    size = images.shape[1]
    rows = [(i, v) for i in range(len(images)) for v in range(int(counts[i]))]
    seeds = np.random.default_rng([seed, 7]).integers(
        0, 2**31 - 1, size=(len(images), counts.max())
    )
    model.backbone.eval()
    parts: list[list[torch.Tensor]] = []
    view_masks = np.empty((len(rows), size, size), np.uint8)
    for start in range(0, len(rows), batch_size):
        batch = []
        for j, (i, v) in enumerate(rows[start : start + batch_size], start=start):
            image, mask = images[i], masks[i]
            if v > 0 and pipeline is not None:
                image, mask = augment(pipeline, image, int(seeds[i, v]), mask)
            batch.append(image)
            view_masks[j] = mask
        x = preprocess(batch, size, mean, std).to(device, memory_format=torch.channels_last)
        with inference_context(device):
            outputs = model.features(x)
        parts.append([o.to("cpu", torch.float16).contiguous() for o in outputs])
        step(min(start + batch_size, len(rows)), len(rows))
    features = [torch.cat([p[k] for p in parts]) for k in range(len(parts[0]))]
    owner = np.array([i for i, _ in rows], np.int64)
    return FeatureCache(features, torch.from_numpy(view_masks), owner)
