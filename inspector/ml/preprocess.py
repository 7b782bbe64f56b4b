"""The one preprocessing step in front of every model: images to a normalised tensor.

Live inspection, headless runs, ``predict``, ``evaluate`` and fitting all call
:func:`preprocess`, so a model never sees pixels prepared in two different ways
(anomalib's drifting inferencers, their issue #2843, are the lesson). The pixel
work itself is :func:`inspector.ml.pixels.normalise_batch`, in numpy, so the
ONNX Runtime backend, which must not import torch, prepares pixels with the
very same code; this module only wraps the result as a tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from inspector.ml.pixels import (
    AS_CAPTURED,
    LEAST_SPREAD,
    STANDARD_MEAN,
    STANDARD_SPREAD,
    check_image,
    normalise_batch,
)

__all__ = ["check_image", "preprocess", "standardise_exposure_tensor"]


def preprocess(
    images: Sequence[np.ndarray],
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    exposure: str = AS_CAPTURED,
) -> torch.Tensor:
    """Resize and normalise RGB images into one batch for a torch model.

    See :func:`inspector.ml.pixels.normalise_batch` for the resize and the
    arithmetic; the tensor shares the array's memory (``torch.from_numpy``).

    Args:
        images: RGB ``uint8`` ``(H, W, 3)`` arrays of any sizes.
        input_size: Side of the square the model takes.
        mean: Per-channel mean of the [0, 1] input that the model expects.
        std: Per-channel standard deviation.
        exposure: The package's exposure setting (:data:`inspector.ml.pixels.EXPOSURES`).

    Returns:
        ``float32`` tensor ``(N, 3, input_size, input_size)`` on the CPU.

    Raises:
        ValueError: no images, one is not an RGB ``uint8`` array, or an unknown exposure.
    """
    return torch.from_numpy(normalise_batch(images, input_size, mean, std, exposure=exposure))


def standardise_exposure_tensor(pixels: torch.Tensor) -> torch.Tensor:
    """:func:`inspector.ml.pixels.standardise_exposure` of a float ``(N, C, H, W)`` tensor
    of grey levels, differentiable (for the attacks, which need gradients to the pixels)."""
    flat = pixels.flatten(1)
    centre = flat.mean(dim=1).view(-1, 1, 1, 1)
    spread = flat.std(dim=1, unbiased=False).clamp_min(LEAST_SPREAD).view(-1, 1, 1, 1)
    return ((pixels - centre) * (STANDARD_SPREAD / spread) + STANDARD_MEAN).clamp(0.0, 255.0)
