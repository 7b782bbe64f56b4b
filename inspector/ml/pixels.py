"""The array work on both sides of the network, shared by every inference backend.

The torch path (:mod:`inspector.ml.inferencer`) and the ONNX Runtime path
(:mod:`inspector.ml.onnx_inferencer`) differ only in the network call: both
turn images into a batch with :func:`normalise_batch` and the network's square
maps back into per-image results with :func:`outputs_at_image_size`. This
module imports numpy and OpenCV only, never torch, so a line PC without torch
can use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from inspector.core.inspection import ModelOutput
from inspector.ml.package_fields import AS_CAPTURED, EXPOSURES, STANDARDISED, check_exposure

__all__ = [
    "AS_CAPTURED",
    "EXPOSURES",
    "LEAST_SPREAD",
    "STANDARDISED",
    "STANDARD_MEAN",
    "STANDARD_SPREAD",
    "check_exposure",
    "check_image",
    "normalise_batch",
    "outputs_at_image_size",
    "standardise_exposure",
]

STANDARD_MEAN = 128.0
"""Grey level a standardised image is centred on."""

STANDARD_SPREAD = 40.0
"""Standard deviation, in grey levels, of a standardised image: 3.2 of them fit either side
of :data:`STANDARD_MEAN` before clipping, so only glare and deep shadow are clipped."""

LEAST_SPREAD = 8.0
"""An image whose grey levels spread less (a nearly flat frame: a covered lens, lost
light) is standardised as if they spread this much: gained at most 5x, so sensor noise
is not blown up into texture. Real parts spread more (magnetic-tile: 9 to 60)."""


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


def normalise_batch(
    images: Sequence[np.ndarray],
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    exposure: str = AS_CAPTURED,
) -> np.ndarray:
    """Resize and normalise RGB images into one ``float32`` ``(N, 3, S, S)`` batch.

    Every image is resized (not cropped) to ``input_size`` square with
    ``cv2.INTER_AREA``, which averages pixels when shrinking and so does not
    alias fine texture, the thing anomaly models look at. With ``exposure``
    :data:`STANDARDISED` the resized image's grey levels are then standardised
    (:func:`standardise_exposure`). The arithmetic is float32
    ``pixel * (1 / (255 std)) - mean / std``, the same on every backend.

    Args:
        images: RGB ``uint8`` ``(H, W, 3)`` arrays of any sizes.
        input_size: Side of the square the model takes.
        mean: Per-channel mean of the [0, 1] input that the model expects.
        std: Per-channel standard deviation.
        exposure: One of :data:`EXPOSURES`, as the model package says.

    Returns:
        C-contiguous ``float32`` array ``(N, 3, input_size, input_size)``.

    Raises:
        ValueError: no images, one is not an RGB ``uint8`` array, or an unknown exposure.
    """
    if len(images) == 0:
        msg = "no images to preprocess: pass at least one"
        raise ValueError(msg)
    check_exposure(exposure)
    batch = np.empty((len(images), input_size, input_size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        batch[i] = resized_square(check_image(image, i), input_size)
    pixels = batch.transpose(0, 3, 1, 2).astype(np.float32)
    if exposure == STANDARDISED:
        pixels = standardise_exposure(pixels)
    scale = np.array([1.0 / (255.0 * s) for s in std], dtype=np.float32)
    shift = np.array([m / s for m, s in zip(mean, std, strict=True)], dtype=np.float32)
    return np.ascontiguousarray(pixels * scale.reshape(1, 3, 1, 1) - shift.reshape(1, 3, 1, 1))


def resized_square(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized (not cropped) to ``size`` square with ``cv2.INTER_AREA``, as every
    image is before the network; returned as it is when it already has that size."""
    if image.shape[:2] == (size, size):
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def standardise_exposure(pixels: np.ndarray) -> np.ndarray:
    """Each image of a float ``(N, C, H, W)`` batch of grey levels moved to mean
    :data:`STANDARD_MEAN` and standard deviation :data:`STANDARD_SPREAD` over all its
    pixels and channels, then clipped to [0, 255] (in place).

    Why: lighting differs between tiles, shifts and cameras far more than good
    parts' texture does; a model that sees standardised grey levels compares
    texture, so an unfamiliar exposure is not taken for a defect (on
    magnetic-tile it caught more defective tiles at the same false rejects,
    see README "Detection quality"). The price: a part that is only darker or
    brighter as a whole looks normal. A spread under :data:`LEAST_SPREAD` is
    taken as that.
    """
    if pixels.dtype.kind != "f":
        msg = f"standardise_exposure works in place on float grey levels, got {pixels.dtype}"
        raise TypeError(msg)
    flat = pixels.reshape(len(pixels), -1)
    centre = flat.mean(axis=1).reshape(-1, 1, 1, 1)
    spread = np.maximum(flat.std(axis=1), LEAST_SPREAD).reshape(-1, 1, 1, 1)
    pixels -= centre
    pixels *= STANDARD_SPREAD / spread
    pixels += STANDARD_MEAN
    return np.clip(pixels, 0.0, 255.0, out=pixels)


def outputs_at_image_size(
    images: Sequence[np.ndarray],
    scores: np.ndarray,
    maps: np.ndarray,
    localisation_maps: np.ndarray | None = None,
) -> list[ModelOutput]:
    """Pair each image with its score and its maps resized to the image's own size.

    Args:
        images: The images the batch was made from (only their sizes are used).
        scores: ``(N,)`` image scores from the network.
        maps: ``(N, S, S)`` anomaly maps at the network's input size.
        localisation_maps: ``(N, S, S)`` maps that locate defects better (evened, with a
            localisation head's map), or ``None``.

    Returns:
        One :class:`ModelOutput` per image; each map is ``float32`` at that
        image's height and width (bilinear), so overlays and defect regions are
        in the image's own pixels.
    """
    outputs = []
    located = [None] * len(images) if localisation_maps is None else localisation_maps
    for image, score, square, square_located in zip(images, scores, maps, located, strict=True):
        size = image.shape[:2]
        outputs.append(
            ModelOutput(
                score=float(score),
                anomaly_map=_resized(square, size),
                localisation_map=None if square_located is None else _resized(square_located, size),
            )
        )
    return outputs


def _resized(square: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A network map as ``float32`` at ``(height, width)`` (bilinear)."""
    height, width = size
    square = np.asarray(square, dtype=np.float32)
    if (height, width) != square.shape:
        square = cv2.resize(square, (width, height), interpolation=cv2.INTER_LINEAR)
    return square
