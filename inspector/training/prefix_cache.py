"""Running the never-trained front of the backbone once, not every epoch.

With the ``frozen`` and ``gradual`` strategies the first backbone groups never
learn, yet on a CPU they cost most of each step: they work at the highest
resolutions. Their output for a given input never changes, so it is computed
once for a fixed number of *views* of each training image (the image itself
and augmented variants of it; once for each validation image, unaugmented)
and kept in memory; each epoch then draws one of an image's views. Training
on those outputs is the same computation as training on the images (frozen
layers and every batch norm are in eval mode, so nothing depends on the
batch), restricted to ``views`` different versions of each image instead of a
fresh augmentation per epoch. Outputs are kept as ``float16``, halving the
memory; the rounding is far below the augmentation's own variation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import albumentations as A
import numpy as np
import torch

from inspector.ml.classifier import BACKBONE_GROUPS, DefectClassifier
from inspector.ml.device import inference_context
from inspector.ml.preprocess import preprocess
from inspector.training.augment import augment

Step = Callable[[int, int], None]
MAX_CACHE_BYTES = 8 * 2**30
"""A cache larger than this is refused (with what to change) rather than exhausting memory."""


def cache_bytes(model: DefectClassifier, stop: int, image_size: int, count: int) -> int:
    """Bytes ``count`` cached outputs of groups ``0..stop-1`` take (found by one image's pass).

    Leaves the model in eval mode (training sets the modes it needs each epoch).
    """
    x = torch.zeros(1, 3, image_size, image_size, device=next(model.parameters()).device)
    model.eval()
    with torch.inference_mode():
        out = model.run_groups(x, 0, stop)
    per_view = out.shape[1] if stop == BACKBONE_GROUPS else out[0].numel()
    return per_view * 2 * count


def compute_prefix(
    model: DefectClassifier,
    images: np.ndarray,
    stop: int,
    *,
    views: int,
    seeds: np.ndarray | None,
    pipeline: A.Compose | None,
    mean: Sequence[float],
    std: Sequence[float],
    device: torch.device,
    batch_size: int,
    step: Step,
) -> torch.Tensor:
    """Outputs of backbone groups ``0..stop-1`` for ``views`` augmented views of each image.

    Args:
        model: The classifier; groups below ``stop`` must be frozen.
        images: Resized ``uint8`` images ``(N, S, S, 3)``.
        stop: First group not cached; ``BACKBONE_GROUPS`` caches the whole
            backbone, pooled to ``(1280,)`` per view.
        views: Views per image; view 0 is the image itself, the others augmented.
        seeds: ``(N, views)`` augmentation seeds; ``None`` with no ``pipeline``.
        pipeline: Augmentation, or ``None`` for the images as they are.
        mean: Normalisation mean.
        std: Normalisation standard deviation.
        device: Where to run.
        batch_size: Images per forward pass.
        step: Called as ``step(done, total)`` after each batch (it may raise to cancel).

    Returns:
        ``float16`` CPU tensor ``(N, views, ...)``. The model is left in eval mode.
    """
    n, size = len(images), images.shape[1]
    model.eval()
    per_view = []
    total = n * views
    for view in range(views):
        parts = []
        for start in range(0, n, batch_size):
            chosen = range(start, min(start + batch_size, n))
            if pipeline is None or seeds is None or view == 0:
                batch = [images[i] for i in chosen]
            else:
                batch = [augment(pipeline, images[i], int(seeds[i, view]))[0] for i in chosen]
            x = preprocess(batch, size, mean, std).to(device, memory_format=torch.channels_last)
            with inference_context(device):
                out = model.run_groups(x, 0, stop)
                if stop == BACKBONE_GROUPS:
                    out = out.mean(dim=(2, 3))
            parts.append(out.to("cpu", torch.float16))
            step(view * n + chosen.stop, total)
        per_view.append(torch.cat(parts))
    return torch.stack(per_view, dim=1)


def pool_cached(
    model: DefectClassifier,
    cache: torch.Tensor,
    start: int,
    *,
    device: torch.device,
    batch_size: int,
    step: Step,
) -> torch.Tensor:
    """Pooled head inputs ``(N, views, 1280)`` from cached outputs of groups ``0..start-1``.

    What the head sees while the whole backbone is frozen (the head phase):
    the remaining groups run once per cached view, in eval mode.

    Args:
        model: The classifier.
        cache: ``(N, views, ...)`` from :func:`compute_prefix` with ``stop=start``.
        start: First group to run (``BACKBONE_GROUPS``: ``cache`` is pooled already).
        device: Where to run.
        batch_size: Cached outputs per forward pass.
        step: Called as ``step(done, total)`` after each batch (it may raise to cancel).
    """
    if start == BACKBONE_GROUPS:
        return cache
    model.eval()
    n, views = cache.shape[:2]
    flat = cache.flatten(0, 1)
    parts = []
    for begin in range(0, len(flat), batch_size):
        x = flat[begin : begin + batch_size].to(device, torch.float32)
        with inference_context(device):
            out = model.run_groups(
                x.contiguous(memory_format=torch.channels_last), start, stop=BACKBONE_GROUPS
            )
        parts.append(out.mean(dim=(2, 3)).to("cpu", torch.float16))
        step(min(begin + batch_size, len(flat)), len(flat))
    return torch.cat(parts).view(n, views, -1)
