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

from inspector.ml.pixels import check_image, normalise_batch

__all__ = ["check_image", "preprocess"]


def preprocess(
    images: Sequence[np.ndarray],
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> torch.Tensor:
    """Resize and normalise RGB images into one batch for a torch model.

    See :func:`inspector.ml.pixels.normalise_batch` for the resize and the
    arithmetic; the tensor shares the array's memory (``torch.from_numpy``).

    Args:
        images: RGB ``uint8`` ``(H, W, 3)`` arrays of any sizes.
        input_size: Side of the square the model takes.
        mean: Per-channel mean of the [0, 1] input that the model expects.
        std: Per-channel standard deviation.

    Returns:
        ``float32`` tensor ``(N, 3, input_size, input_size)`` on the CPU.

    Raises:
        ValueError: no images, or one is not an RGB ``uint8`` array.
    """
    return torch.from_numpy(normalise_batch(images, input_size, mean, std))
