"""Shop-floor image corruptions at five severities, for the robustness report.

Each corruption is a thing that really happens to a line camera, with its
parameter in the units an engineer would measure on the line (grey levels,
pixels of the camera image, degrees, JPEG quality, percent of the image):

- brightness drift: LED ageing, a door opened to daylight, an exposure or
  gain change. A few grey levels is normal day-to-day drift; 50 is a failing
  light or a changed exposure.
- contrast drift: a hazy or dusty cover glass, a gain change. 10 % is a dirty
  window; 50 % is a fogged lens.
- defocus blur: parts of another height, a lens ring knocked or warming up.
  A 3 px disk is at the edge of the depth of field; 13 px is clearly out of focus.
- motion blur (along the image rows, the conveyor's direction): a longer
  exposure or a faster belt. 3 px is a part moving during a short exposure;
  19 px is an exposure set for a slower line.
- sensor noise: Gaussian, as a camera's read and shot noise at raised gain.
  2 grey levels is a machine-vision camera at 0 dB; 20 is +18 dB in poor light.
- JPEG compression: smart cameras and image archives compress; quality 90 is
  a careful setting, 15 a bandwidth-starved network camera.
- shift: the part's position tolerance on the belt or in the fixture, in
  camera pixels (2 px is a good fixture, 16 px a part pushed by hand).
- rotation: placement angle without a fixture, 1 to 10 degrees.
- occlusion: a dark object in view (a gripper finger, a cable, debris),
  covering 2 % to 25 % of the image.

Everything is numpy and OpenCV (no torch), deterministic for a given random
generator: the choices an image gets (the sign of a drift, a direction, where
the occluder sits, the noise pattern) come from the generator, so the caller
seeds one per image and corruption and the same image gets the same choices
at every severity, which keeps a severity curve about the severity alone.
Severity 0 returns the image unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from inspector.ml.pixels import check_image

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
"""The severities every corruption has; 0 means no corruption."""

Apply = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Corruption:
    """One kind of corruption and its parameter at each severity.

    Attributes:
        name: Short name used on the command line and in reports.
        parameter: What the severity sets, for people (``"offset"``).
        unit: Its unit (``"grey levels"``).
        levels: The parameter at severities 1 to 5.
        apply: ``apply(image, level, rng)`` returning a new RGB ``uint8`` image.
    """

    name: str
    parameter: str
    unit: str
    levels: tuple[float, ...]
    apply: Apply

    def level(self, severity: int) -> float:
        """The parameter at ``severity`` (1..5); 0 for severity 0.

        Raises:
            ValueError: ``severity`` is not 0..5.
        """
        check_severity(severity)
        return 0.0 if severity == 0 else self.levels[severity - 1]


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _is_grey(image: np.ndarray) -> bool:
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())


def _sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


def _brightness(image: np.ndarray, offset: float, rng: np.random.Generator) -> np.ndarray:
    return _to_uint8(image.astype(np.float32) + _sign(rng) * offset)


def _contrast(image: np.ndarray, percent: float, rng: np.random.Generator) -> np.ndarray:
    pixels = image.astype(np.float32)
    mean = pixels.mean(axis=(0, 1), keepdims=True)
    return _to_uint8(mean + (pixels - mean) * (1.0 + _sign(rng) * percent / 100.0))


def _defocus(image: np.ndarray, diameter: float, rng: np.random.Generator) -> np.ndarray:
    side = int(diameter)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)).astype(np.float32)
    return cv2.filter2D(image, -1, disk / disk.sum(), borderType=cv2.BORDER_REFLECT)


def _motion(image: np.ndarray, length: float, rng: np.random.Generator) -> np.ndarray:
    side = int(length)
    line = np.zeros((side, side), np.float32)
    line[side // 2, :] = 1.0 / side
    return cv2.filter2D(image, -1, line, borderType=cv2.BORDER_REFLECT)


def _noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    # A monochrome camera's image has one noise value per pixel in all channels.
    shape = image.shape[:2] + ((1,) if _is_grey(image) else (3,))
    noise = rng.standard_normal(shape, dtype=np.float32) * sigma
    return _to_uint8(image.astype(np.float32) + noise)


def _jpeg(image: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        msg = f"OpenCV could not JPEG-encode an image of shape {image.shape}"
        raise ValueError(msg)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _warp(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    return cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _shift(image: np.ndarray, pixels: float, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0.0, 2.0 * np.pi)
    matrix = np.array(
        [[1.0, 0.0, pixels * np.cos(angle)], [0.0, 1.0, pixels * np.sin(angle)]], np.float64
    )
    return _warp(image, matrix)


def _rotation(image: np.ndarray, degrees: float, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    return _warp(image, cv2.getRotationMatrix2D(centre, _sign(rng) * degrees, 1.0))


def _occlusion(image: np.ndarray, percent: float, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    area = percent / 100.0 * height * width
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))  # width / height
    box_w = int(min(width, max(1, round(np.sqrt(area * aspect)))))
    box_h = int(min(height, max(1, round(area / box_w))))
    # Centred where the generator says, whatever the size: a larger severity is the same
    # object covering more, moved inward only as far as the image edge demands.
    centre_x, centre_y = rng.uniform(0, width), rng.uniform(0, height)
    x = int(np.clip(round(centre_x - box_w / 2), 0, width - box_w))
    y = int(np.clip(round(centre_y - box_h / 2), 0, height - box_h))
    out = image.copy()
    out[y : y + box_h, x : x + box_w] = 16  # a dark object, not pure black: cameras have a floor
    return out


CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption(
            "brightness", "offset (sign per image)", "grey levels", (5, 10, 20, 35, 50), _brightness
        ),
        Corruption(
            "contrast", "change (sign per image)", "% of contrast", (10, 20, 30, 40, 50), _contrast
        ),
        Corruption("defocus", "disk diameter", "px", (3, 5, 7, 9, 13), _defocus),
        Corruption("motion", "blur length along rows", "px", (3, 5, 9, 13, 19), _motion),
        Corruption("noise", "Gaussian sigma", "grey levels", (2, 4, 8, 12, 20), _noise),
        Corruption("jpeg", "quality", "JPEG quality", (90, 75, 50, 30, 15), _jpeg),
        Corruption("shift", "distance (direction per image)", "px", (2, 4, 8, 12, 16), _shift),
        Corruption("rotation", "angle (sign per image)", "degrees", (1, 2, 4, 6, 10), _rotation),
        Corruption("occlusion", "dark box area", "% of image", (2, 5, 10, 15, 25), _occlusion),
    )
}
"""Every corruption, by name, in the order reports list them."""


def check_severity(severity: int) -> int:
    """Return ``severity`` if it is 0..5, else raise.

    Raises:
        ValueError: saying which severities exist.
    """
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer):
        msg = f"severity must be an integer 0..5, got {severity!r}"
        raise ValueError(msg)
    if not 0 <= severity <= len(SEVERITIES):
        msg = f"severity {severity} does not exist: use 0 (none) or 1..{len(SEVERITIES)}"
        raise ValueError(msg)
    return int(severity)


def get_corruption(name: str) -> Corruption:
    """The corruption called ``name``.

    Raises:
        ValueError: naming the corruptions that exist.
    """
    try:
        return CORRUPTIONS[name]
    except KeyError:
        msg = f"unknown corruption {name!r}: use some of {', '.join(CORRUPTIONS)}"
        raise ValueError(msg) from None


def check_corruptions(names: Sequence[str]) -> tuple[str, ...]:
    """Validate a list of corruption names (at least one, no repeats), keeping its order.

    Raises:
        ValueError: a name is unknown or repeated, or the list is empty.
    """
    if not names:
        msg = f"no corruptions chosen: name at least one of {', '.join(CORRUPTIONS)}"
        raise ValueError(msg)
    for name in names:
        get_corruption(name)
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        msg = f"corruptions {repeated} are named more than once: name each once"
        raise ValueError(msg)
    return tuple(names)


def corrupt(image: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """``image`` under corruption ``name`` at ``severity`` (0 returns ``image`` itself).

    Args:
        image: RGB ``uint8`` ``(H, W, 3)``; not modified.
        name: One of :data:`CORRUPTIONS`.
        severity: 0 (none) to 5.
        rng: Source of this image's random choices; seed it the same way for
            every severity of one image so only the severity changes.

    Returns:
        A new RGB ``uint8`` image of the same shape (or ``image`` at severity 0).

    Raises:
        ValueError: unknown name, severity out of range, or not an RGB ``uint8`` image.
    """
    corruption = get_corruption(name)
    check_severity(severity)
    check_image(image)
    if severity == 0:
        return image
    return corruption.apply(image, corruption.level(severity), rng)
