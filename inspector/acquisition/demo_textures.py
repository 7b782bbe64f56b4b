"""Precomputed surfaces for the demo line: part textures, belt, part outline, sensor noise.

Everything here is made once when a :class:`~inspector.acquisition.demo_line.DemoLine`
starts, so that rendering a part is only cropping, warping and blending
(a few milliseconds). All images are single-channel ``float32`` grey levels
on a 0..255 scale; colour comes from a tint applied when the frame is composed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import cv2
import numpy as np

PRODUCT_SEED = 20240611
"""Seeds the product's surfaces: every demo line makes the same product, whatever its seed."""

PART_FRACTION = 0.74
"""Side of the square part as a fraction of the frame: leaves belt visible on every side."""

_CERAMIC_TINT = (1.0, 0.975, 0.93)
_STEEL_TINT = (0.94, 0.975, 1.0)
_BELT_TINT = (0.92, 0.97, 1.0)


@dataclass(frozen=True)
class PartLayout:
    """Where the part sits in the canonical (unshifted, unrotated) frame.

    Attributes:
        size: Frame side in pixels.
        left: First column (and row) of the part.
        side: Part side in pixels.
        corner_radius: Radius of the part's rounded corners.
    """

    size: int
    left: int
    side: int
    corner_radius: int

    @property
    def right(self) -> int:
        """One past the last column (and row) of the part."""
        return self.left + self.side

    @property
    def scale(self) -> float:
        """Pixel scale relative to the 256 px design size, for sizing defects."""
        return self.size / 256.0


@dataclass(frozen=True, eq=False)
class TextureBank:
    """Everything the demo line renders from, built once per line.

    Attributes:
        layout: Part geometry.
        parts: Part surface textures, each ``(size, size)``.
        tints: RGB tint per part texture (ceramic warm, steel cool).
        bevel: Bright chamfer along the part's edge, added to the surface (a chip breaks it).
        mask: Part alpha (1 on the part, 0 on the belt, soft edge), ``(size, size)``.
        shadow: The part's soft shadow on the belt, ``(size, size)``, 0..1.
        belt: Belt texture, ``(size, 3 * size)``: a frame takes a window, so the belt moves.
        belt_tint: RGB tint of the belt.
        noise: Sensor noise, ``(2 * size, 2 * size)``: a frame takes a random window.
        grid_x: Column coordinate normalised to -1..1, for lighting gradients.
        grid_y: Row coordinate normalised to -1..1.
    """

    layout: PartLayout
    parts: tuple[np.ndarray, ...]
    tints: tuple[np.ndarray, ...]
    bevel: np.ndarray
    mask: np.ndarray
    shadow: np.ndarray
    belt: np.ndarray
    belt_tint: np.ndarray
    noise: np.ndarray
    grid_x: np.ndarray
    grid_y: np.ndarray


def make_layout(size: int) -> PartLayout:
    """Centre a square part in a ``size`` x ``size`` frame."""
    side = round(size * PART_FRACTION)
    return PartLayout(
        size=size,
        left=(size - side) // 2,
        side=side,
        corner_radius=max(2, round(size * 0.03)),
    )


@functools.lru_cache(maxsize=4)
def product_bank(size: int) -> TextureBank:
    """The demo product's bank at ``size`` px: built once per process, then shared.

    The surfaces belong to the product, not to a run: a model fitted on good
    parts of one demo line (any seed) must see the parts of another line as
    the same product. The arrays are read-only so no line can alter them.
    """
    bank = build_bank(size, np.random.default_rng(PRODUCT_SEED))
    for item in fields(bank):
        value = getattr(bank, item.name)
        for array in value if isinstance(value, tuple) else (value,):
            if isinstance(array, np.ndarray):
                array.flags.writeable = False
    return bank


def build_bank(size: int, rng: np.random.Generator, n_textures: int = 8) -> TextureBank:
    """Generate the textures for one demo line (about 10 ms per texture at 256 px)."""
    layout = make_layout(size)
    parts, tints = [], []
    for i in range(n_textures):
        ceramic = i % 2 == 0
        parts.append(_part_texture(size, rng, ceramic=ceramic))
        tints.append(np.array(_CERAMIC_TINT if ceramic else _STEEL_TINT, np.float32))
    mask = _part_mask(layout)
    inner = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=max(1, round(2 * layout.scale)))
    bevel = cv2.GaussianBlur(mask - inner, (0, 0), 0.6) * 16.0
    offset = max(1, round(3 * layout.scale))
    shadow = np.roll(mask, (offset, offset), axis=(0, 1))
    shadow = cv2.GaussianBlur(shadow, (0, 0), 3.5 * layout.scale)
    coords = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    grid_x, grid_y = np.meshgrid(coords, coords)
    return TextureBank(
        layout=layout,
        parts=tuple(parts),
        tints=tuple(tints),
        bevel=bevel,
        mask=mask,
        shadow=shadow,
        belt=_belt_texture(size, rng),
        belt_tint=np.array(_BELT_TINT, np.float32),
        noise=(rng.standard_normal((2 * size, 2 * size)) * 1.6).astype(np.float32),
        grid_x=grid_x,
        grid_y=grid_y,
    )


def _smooth_noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-ish noise with features about ``cell`` pixels across."""
    h, w = shape
    small = rng.standard_normal((max(2, round(h / cell)) + 1, max(2, round(w / cell)) + 1))
    big = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return big / (big.std() + 1e-6)


def _part_texture(size: int, rng: np.random.Generator, *, ceramic: bool) -> np.ndarray:
    """A machined or fired surface: grain, cloudiness and faint tool marks.

    Ceramic tiles get stronger cloudiness and lapping marks on straight lines;
    steel gets a finer grain and facing marks (arcs around a far centre), as a
    face-turned or milled surface shows.
    """
    scale = size / 256.0
    base = rng.uniform(158, 182) if ceramic else rng.uniform(140, 165)
    grain = rng.standard_normal((size, size)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.7 * scale)
    grain *= (7.0 if ceramic else 5.0) / (grain.std() + 1e-6)
    cloud = _smooth_noise((size, size), 24 * scale, rng) * (4.0 if ceramic else 2.5)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if ceramic:
        angle = rng.uniform(0, np.pi)
        phase = xx * np.cos(angle) + yy * np.sin(angle)
    else:
        radius = size * rng.uniform(1.2, 2.5)
        centre_angle = rng.uniform(0, 2 * np.pi)
        cx = size / 2 + radius * np.cos(centre_angle)
        cy = size / 2 + radius * np.sin(centre_angle)
        phase = np.hypot(xx - cx, yy - cy)
    period = rng.uniform(3.0, 6.0) * scale
    wobble = _smooth_noise((size, size), 40 * scale, rng) * 0.6
    strength = 1.0 + 0.6 * _smooth_noise((size, size), 32 * scale, rng)
    marks = np.sin(2 * np.pi * phase / period + wobble) * strength * rng.uniform(2.0, 3.5)
    return (base + grain + cloud + marks).astype(np.float32)


def _part_mask(layout: PartLayout) -> np.ndarray:
    """Alpha of a rounded square with an antialiased (1 px soft) edge."""
    scale = 4  # draw at 4x and shrink: a smooth edge without a blur that eats the corners
    big = np.zeros((layout.size * scale, layout.size * scale), np.uint8)
    lo, hi, r = layout.left * scale, layout.right * scale - 1, layout.corner_radius * scale
    cv2.rectangle(big, (lo + r, lo), (hi - r, hi), 255, -1)
    cv2.rectangle(big, (lo, lo + r), (hi, hi - r), 255, -1)
    for cx in (lo + r, hi - r):
        for cy in (lo + r, hi - r):
            cv2.circle(big, (cx, cy), r, 255, -1)
    small = cv2.resize(big, (layout.size, layout.size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def _belt_texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A dark rubber belt: streaks along the running direction, fabric grain, some dirt."""
    scale = size / 256.0
    h, w = size, 3 * size
    streaks = cv2.GaussianBlur(rng.standard_normal((h, 1)).astype(np.float32), (0, 0), 1.5)
    streaks = np.repeat(streaks / (streaks.std() + 1e-6) * 2.5, w, axis=1)
    grain = rng.standard_normal((h, w)).astype(np.float32) * 3.0
    cloud = _smooth_noise((h, w), 30 * scale, rng) * 3.0
    belt = 48.0 + streaks + grain + cloud
    for _ in range(int(rng.integers(10, 20) * 3)):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        radius = max(1, round(rng.uniform(0.5, 2.5) * scale))
        cv2.circle(belt, (x, y), radius, float(rng.uniform(30, 70)), -1, cv2.LINE_AA)
    return belt.astype(np.float32)
