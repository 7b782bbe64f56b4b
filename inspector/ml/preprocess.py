"""The one preprocessing step in front of every model: images to a normalised tensor.

Live inspection, headless runs, ``predict``, ``evaluate`` and fitting all call
:func:`preprocess`, so a model never sees pixels prepared in two different ways
(anomalib's drifting inferencers, their issue #2843, are the lesson).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch


def check_image(image: object, index: int = 0) -> np.ndarray:
    """Return ``image`` if it is an RGB ``uint8`` ``(H, W, 3)`` array, else raise.

    Raises:
        ValueError: naming the image's position and what it was instead.
    """
    if not isinstance(image, np.ndarray):
        msg = f"image {index} is a {type(image).__name__}, expected an RGB uint8 numpy array"
        raise ValueError(msg)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        msg = (
            f"image {index} has dtype {image.dtype} and shape {image.shape}; expected RGB uint8 "
            "(H, W, 3): convert it first (inspector.acquisition.image_files.read_image does)"
        )
        raise ValueError(msg)
    return image


def preprocess(
    images: Sequence[np.ndarray],
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> torch.Tensor:
    """Resize and normalise RGB images into one batch for a model.

    Every image is resized (not cropped) to ``input_size`` square with
    ``cv2.INTER_AREA``, which averages pixels when shrinking and so does not
    alias fine texture, the thing anomaly models look at.

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
    if len(images) == 0:
        msg = "no images to preprocess: pass at least one"
        raise ValueError(msg)
    size = (input_size, input_size)
    batch = np.empty((len(images), input_size, input_size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        image = check_image(image, i)
        if image.shape[:2] == size:
            batch[i] = image
        else:
            batch[i] = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).float()
    scale = torch.tensor([1.0 / (255.0 * s) for s in std]).view(1, 3, 1, 1)
    shift = torch.tensor([m / s for m, s in zip(mean, std, strict=True)]).view(1, 3, 1, 1)
    return (tensor * scale - shift).contiguous()
