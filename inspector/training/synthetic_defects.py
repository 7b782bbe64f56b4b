"""Synthetic defects painted on good images, for teaching a localisation head from good parts only.

A model fitted on good parts knows what is usual, not what a defect looks
like; where a defect is only a region whose texture differs a little from
the rest of the part (magnetic-tile's "uneven" bands: two grindings on one
tile, each normal on its own), nearest-neighbour distances barely locate it.
Painting plausible defects on good images (as DRAEM and CutPaste do) gives a
small head something to learn "this region differs from its surroundings"
from, without a single labelled reject.

Each kind changes pixels only inside its mask (blurred edges up to a few
pixels outside), and the mask says where; all work on float grey levels
``(H, W, C)`` in 0..255 and return ``uint8`` so the image then goes through the
line's own preprocessing. Magnitudes are relative to the image's own spread,
so a dark part and a bright part get defects equally visible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

KINDS = ("band", "shade", "crack", "hole", "texture", "blur", "noise")
"""The kinds of painted defect, in the order of :data:`KIND_SHARES`."""
KIND_SHARES = (0.4, 0.15, 0.15, 0.1, 0.1, 0.05, 0.05)
"""How often each kind is painted. Bands (a stretch across the part with deeper
or shallower grinding marks) lead: on magnetic-tile ``train/`` they took pixel
AUROC from 0.867 to 0.880 with the rest unchanged (see README "Detection quality")."""
CLEAN_SHARE = 0.25
"""Share of training images left as they are, so the head learns to stay quiet on good parts."""
LEAST_SPREAD = 8.0
"""Smallest image spread (grey levels) a defect's strength is measured against."""

FAINTEST = 0.25 * LEAST_SPREAD
"""Least mean change (grey levels) inside a painted region; fainter ones become holes."""

Painted = tuple[np.ndarray, np.ndarray]
"""A painted image and its defect mask."""
Painter = Callable[[np.random.Generator, np.ndarray, float], Painted]


def paint_defect(
    rng: np.random.Generator, image: np.ndarray, others: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """One random defect painted on a copy of ``image``.

    Args:
        rng: The random source (seeded by the caller, so a fit repeats).
        image: ``uint8`` ``(H, W, C)`` good image at the model's input size.
        others: Good images of the same size, the source of foreign texture.

    Returns:
        The painted ``uint8`` image and its ``bool`` ``(H, W)`` defect mask (never empty).
    """
    grey = image.astype(np.float32)
    spread = max(float(grey.std()), LEAST_SPREAD)
    kind = KINDS[rng.choice(len(KINDS), p=KIND_SHARES)]
    if kind == "texture":
        painted, mask = _texture(rng, grey, spread, others)
    else:
        painted, mask = _PAINTERS[kind](rng, grey, spread)
    if not mask.any() or _faint(grey, painted, mask):
        # A blob can miss, and on a part without texture a band, blur or foreign texture
        # changes nothing: the mask would teach the head to mark what is not there.
        painted, mask = _hole(rng, grey, spread)
    return np.clip(painted, 0.0, 255.0).round().astype(np.uint8), mask


def _faint(grey: np.ndarray, painted: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the painted region differs from the image by less than :data:`FAINTEST`."""
    change = np.abs(painted - grey).mean(axis=2)
    return float(change[mask].mean()) < FAINTEST


def _blob(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Random smooth region(s) covering 0.4 % to 30 % of the image (log-uniform)."""
    area = float(np.exp(rng.uniform(np.log(0.004), np.log(0.3))))
    cells_y, cells_x = rng.choice([2, 3, 4, 6, 8, 12, 16], size=2)
    if rng.random() < 0.5:
        cells_x = cells_y
    noise = rng.standard_normal((int(cells_y), int(cells_x))).astype(np.float32)
    field = cv2.resize(noise, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return field > np.quantile(field, 1.0 - area)


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    """``mask`` as float with edges blurred by ``sigma`` pixels, ``(H, W, 1)``."""
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)[..., None]


def _band(rng: np.random.Generator, grey: np.ndarray, spread: float) -> Painted:
    """A stretch across the part (wavy edges) whose fine texture is deeper or shallower."""
    h, w = grey.shape[:2]
    length = w
    share = rng.uniform(0.1, 0.45)
    wave = np.cumsum(rng.normal(0.0, 0.6, length)).astype(np.float32) * rng.uniform(0.0, 1.0)
    where = rng.integers(3)
    if where == 0:
        low, high = np.full(length, -1.0), share * h + wave
    elif where == 1:
        low, high = (1 - share) * h + wave, np.full(length, h + 1.0)
    else:
        centre = rng.uniform(0.25, 0.75) * h
        low, high = centre - share * h / 2 + wave, centre + share * h / 2 + wave
    rows = np.arange(h, dtype=np.float32)[:, None]
    mask = (rows >= low[None]) & (rows <= high[None])
    if rng.random() < 0.25 and h == w:
        mask = mask.T.copy()
    smooth = cv2.GaussianBlur(grey, (0, 0), 3.0).reshape(grey.shape)
    gain = rng.uniform(1.5, 2.8) if rng.random() < 0.6 else rng.uniform(0.3, 0.6)
    new = smooth + (grey - smooth) * gain + rng.uniform(-0.6, 0.6) * spread
    if rng.random() < 0.6:  # streaks along the band, as grinding leaves
        streaks = cv2.GaussianBlur(
            rng.standard_normal((1, w)).astype(np.float32), (0, 0), rng.uniform(0.5, 1.5)
        )
        streaks /= max(float(streaks.std()), 1e-3)
        new = new + np.repeat(streaks, h, axis=0)[..., None] * rng.uniform(0.3, 1.0) * spread
    weight = _soft(mask, rng.uniform(0.7, 2.0))
    return grey * (1 - weight) + new * weight, weight[..., 0] > 0.5


def _shade(rng: np.random.Generator, grey: np.ndarray, spread: float) -> Painted:
    """A darker or brighter patch with soft edges (a stain, uneven coating)."""
    mask = _blob(rng, grey.shape[:2])
    weight = np.maximum(_soft(mask, rng.uniform(2.0, 8.0)), mask[..., None])  # full inside
    step = rng.uniform(0.5, 1.5) * spread * rng.choice([-1.0, 1.0])
    return grey + weight * step, weight[..., 0] > 0.5


def _crack(rng: np.random.Generator, grey: np.ndarray, spread: float) -> Painted:
    """One or two thin wandering dark (sometimes bright) lines."""
    h, w = grey.shape[:2]
    lines = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(1, 3)):
        point = rng.uniform(0.1, 0.9, size=2) * (w, h)
        angle = rng.uniform(0.0, 2 * np.pi)
        points = [point.copy()]
        for _ in range(rng.integers(3, 12)):
            angle += rng.normal(0.0, 0.5)
            point = point + rng.uniform(5.0, 20.0) * np.array([np.cos(angle), np.sin(angle)])
            points.append(point.copy())
        path = np.array(points, np.int32)
        cv2.polylines(lines, [path], isClosed=False, color=1.0, thickness=int(rng.integers(1, 3)))
    lines = cv2.GaussianBlur(lines, (0, 0), 0.7)
    lines /= max(float(lines.max()), 1e-3)
    sign = 1.0 if rng.random() < 0.85 else -1.0
    painted = grey - lines[..., None] * rng.uniform(0.8, 2.5) * spread * sign
    mask = cv2.dilate((lines > 0.3).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return painted, mask


def _hole(rng: np.random.Generator, grey: np.ndarray, spread: float) -> Painted:
    """One to four small dark (sometimes bright) spots, as blowholes and pits."""
    h, w = grey.shape[:2]
    spots = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(1, 5)):
        centre = (int(rng.uniform(0.05, 0.95) * w), int(rng.uniform(0.05, 0.95) * h))
        axes = (int(rng.uniform(2, 10)), int(rng.uniform(2, 10)))
        cv2.ellipse(spots, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
    sign = 1.0 if rng.random() < 0.8 else -1.0
    painted = grey - _soft(spots > 0.5, 1.0) * rng.uniform(0.8, 2.5) * spread * sign
    return painted, spots > 0.5


def _texture(
    rng: np.random.Generator, grey: np.ndarray, spread: float, others: Sequence[np.ndarray]
) -> Painted:
    """A region showing another good image enlarged and turned: foreign texture."""
    h, w = grey.shape[:2]
    other = others[rng.integers(len(others))].astype(np.float32)
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(0, 360), rng.uniform(1.5, 3.0))
    other = cv2.warpAffine(other, turn, (w, h), borderMode=cv2.BORDER_REFLECT).reshape(grey.shape)
    other = (other - other.mean()) / max(float(other.std()), 1.0) * spread
    other += grey.mean() + rng.uniform(-0.5, 0.5) * spread
    mask = _blob(rng, (h, w))
    weight = _soft(mask, 1.0) * rng.uniform(0.6, 1.0)
    return grey * (1 - weight) + other * weight, weight[..., 0] > 0.3


def _blur(rng: np.random.Generator, grey: np.ndarray, spread: float) -> Painted:
    """A region out of focus, or over-sharpened (a smear, a polishing mark)."""
    blurred = cv2.GaussianBlur(grey, (0, 0), rng.uniform(1.5, 4.0)).reshape(grey.shape)
    if rng.random() < 0.4:
        blurred = grey + 2.0 * (grey - blurred)
    mask = _blob(rng, grey.shape[:2])
    weight = _soft(mask, 1.0)
    return grey * (1 - weight) + blurred * weight, mask


def _noise(rng: np.random.Generator, grey: np.ndarray, spread: float) -> Painted:
    """A region of fine grain (a rough, porous spot)."""
    h, w = grey.shape[:2]
    grain = cv2.GaussianBlur(
        rng.standard_normal((h, w)).astype(np.float32), (0, 0), rng.uniform(0.5, 1.5)
    )
    grain /= max(float(grain.std()), 1e-3)
    mask = _blob(rng, (h, w))
    painted = grey + _soft(mask, 1.0) * grain[..., None] * rng.uniform(0.4, 1.0) * spread
    return painted, mask


_PAINTERS: dict[str, Painter] = {
    "band": _band,
    "shade": _shade,
    "crack": _crack,
    "hole": _hole,
    "blur": _blur,
    "noise": _noise,
}
