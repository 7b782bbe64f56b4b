"""Painters for the demo line's defects, each returning where it painted.

Defects are painted on the part in its canonical pose (before the small shift
and rotation that place it on the belt), and each painter returns a binary
mask of the pixels it changed. The demo line turns that mask into the
ground-truth :class:`~inspector.core.Defect` after the same warp as the
pixels, so truth and image cannot disagree.

Contrasts are chosen to be clear to a person looking at the part and to a
pretrained-CNN anomaly detector, but not trivial: thin, low-contrast lines
and small pits on a grainy, unevenly lit surface.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from inspector.acquisition.demo_textures import PartLayout

DEFECT_KINDS = ("scratch", "spot", "crack", "chip")
"""Kinds the demo line can paint."""

Painter = Callable[[np.ndarray, np.ndarray, PartLayout, np.random.Generator], np.ndarray]
"""``painter(surface, mask, layout, rng) -> defect mask``; edits surface/mask in place."""


def _inner_point(layout: PartLayout, margin: float, rng: np.random.Generator) -> np.ndarray:
    """A random point on the part at least ``margin`` px from its edge."""
    lo, hi = layout.left + margin, layout.right - margin
    return rng.uniform(lo, hi, size=2)


def _stamp(canvas: np.ndarray, surface: np.ndarray, delta: float) -> np.ndarray:
    """Add ``delta`` times the (0..255) canvas to the surface; return the defect mask."""
    ys, xs = np.nonzero(canvas)
    if ys.size == 0:
        return canvas > 0
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    surface[y0:y1, x0:x1] += canvas[y0:y1, x0:x1].astype(np.float32) * (delta / 255.0)
    return canvas > 80


def paint_scratch(
    surface: np.ndarray, mask: np.ndarray, layout: PartLayout, rng: np.random.Generator
) -> np.ndarray:
    """A thin, gently curved line, bright (burnished) or dark, fading at both ends."""
    s = layout.scale
    length = rng.uniform(0.22, 0.5) * layout.side
    angle = rng.uniform(0, np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    centre = _inner_point(layout, 0.5 * length * 0.75 + 6 * s, rng)
    bend = rng.uniform(-0.08, 0.08) * length
    t = np.linspace(-0.5, 0.5, 12)
    points = centre + np.outer(t * length, direction) + np.outer((1 - 4 * t**2) * bend, normal)
    canvas = np.zeros(surface.shape, np.uint8)
    thickness = 1 if rng.random() < 0.7 else 2
    for i in range(len(points) - 1):
        fade = np.sin(np.pi * (i + 0.5) / (len(points) - 1)) ** 0.5
        p, q = points[i].round().astype(int), points[i + 1].round().astype(int)
        cv2.line(canvas, tuple(p), tuple(q), int(255 * fade), thickness, cv2.LINE_AA)
    sign = 1.0 if rng.random() < 0.6 else -1.0
    return _stamp(canvas, surface, sign * rng.uniform(32, 55))


def paint_spot(
    surface: np.ndarray, mask: np.ndarray, layout: PartLayout, rng: np.random.Generator
) -> np.ndarray:
    """A blowhole: a dark round pit, deepest at the centre, with a soft bright rim."""
    s = layout.scale
    radius = rng.uniform(2.5, 6.0) * s
    cx, cy = _inner_point(layout, radius + 8 * s, rng)
    half = int(np.ceil(radius * 2 + 3))
    x0, y0 = int(cx) - half, int(cy) - half
    yy, xx = np.mgrid[y0 : y0 + 2 * half + 1, x0 : x0 + 2 * half + 1].astype(np.float32)
    dist = np.hypot(xx - cx, yy - cy)
    core = np.clip(radius - dist + 0.5, 0.0, 1.0)
    depth = core * (0.65 + 0.35 * np.clip(1 - (dist / radius) ** 2, 0, 1))
    rim = np.exp(-(((dist - radius - 1.0 * s) / (1.1 * s)) ** 2))
    glint = np.exp(
        -((xx - cx - 0.4 * radius) ** 2 + (yy - cy + 0.4 * radius) ** 2) / (0.3 * radius) ** 2
    )
    patch = -rng.uniform(55, 90) * depth + rng.uniform(10, 22) * rim + 18.0 * glint * core
    surface[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]] += patch
    out = np.zeros(surface.shape, bool)
    out[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]] = dist <= radius + 0.5
    return out


def _walk(
    start: np.ndarray, heading: float, steps: int, step: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """A jagged path: the course drifts slowly, each step zig-zags as a crack runs along grains."""
    points = [start]
    for _ in range(steps):
        heading += rng.normal(0.0, 0.06)
        jag = heading + rng.normal(0.0, 0.55)
        points.append(points[-1] + step * np.array([np.cos(jag), np.sin(jag)]))
    return points


def paint_crack(
    surface: np.ndarray, mask: np.ndarray, layout: PartLayout, rng: np.random.Generator
) -> np.ndarray:
    """A thin dark branching line, often starting from the part's edge."""
    s = layout.scale
    step = 1.6 * s
    steps = int(rng.uniform(30, 60))
    if rng.random() < 0.5:  # from an edge, running inward
        side = int(rng.integers(4))
        along = rng.uniform(layout.left + 20 * s, layout.right - 20 * s)
        edge = layout.left + 2 * s if side in (0, 1) else layout.right - 2 * s
        start = np.array([edge, along] if side in (0, 2) else [along, edge])
        heading = {0: 0.0, 1: np.pi / 2, 2: np.pi, 3: -np.pi / 2}[side]
        heading += rng.normal(0, 0.3)
    else:
        start = _inner_point(layout, 40 * s, rng)
        heading = rng.uniform(0, 2 * np.pi)
    trunk = _walk(start, heading, steps, step, rng)
    branches = [trunk]
    for _ in range(int(rng.integers(1, 3))):
        fork = int(rng.integers(steps // 4, steps - 2))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        course = heading + sign * rng.uniform(0.4, 0.9)
        branches.append(_walk(trunk[fork], course, int(steps * rng.uniform(0.25, 0.5)), step, rng))
    lo, hi = layout.left + 2 * s, layout.right - 2 * s
    canvas = np.zeros(surface.shape, np.uint8)
    for i, branch in enumerate(branches):  # branches are finer, so fainter, than the trunk
        pts = np.clip(np.array(branch), lo, hi).round().astype(np.int32)
        cv2.polylines(canvas, [pts], False, 255 if i == 0 else 170, 1, cv2.LINE_AA)
    return _stamp(canvas, surface, -rng.uniform(55, 80)) & (mask > 0.5)


def paint_chip(
    surface: np.ndarray, mask: np.ndarray, layout: PartLayout, rng: np.random.Generator
) -> np.ndarray:
    """A piece broken off a corner or an edge: the belt shows through, the fracture is bright."""
    s = layout.scale
    lo, hi = layout.left, layout.right
    if rng.random() < 0.55:  # a corner: a curved fracture from one edge to the other
        a, b = rng.uniform(18, 34, size=2) * s
        t = np.linspace(0, 1, 9)[1:-1]
        sag = rng.uniform(0.1, 0.3)
        inner = np.stack([a * (1 - t), b * t], axis=1)
        inner += sag * np.outer(np.sin(np.pi * t), [a, b]) + rng.normal(0, 1.0 * s, inner.shape)
        local = np.vstack([[-6 * s, -6 * s], [a, -6 * s], [a, 0], inner, [0, b], [-6 * s, b]])
        corner = int(rng.integers(4))
        flip = np.array([1 if corner in (0, 3) else -1, 1 if corner in (0, 1) else -1])
        origin = np.array([lo if flip[0] > 0 else hi - 1, lo if flip[1] > 0 else hi - 1])
        poly = origin + local * flip
    else:  # an edge: a shallow conchoidal bite
        width, depth = rng.uniform(14, 32) * s, rng.uniform(5, 11) * s
        t = np.linspace(0, np.pi, 12)
        bite = np.stack([-np.cos(t) * width / 2, np.sin(t) * depth], axis=1)
        bite += rng.normal(0, 0.8 * s, bite.shape)
        local = np.vstack([[-width / 2, -6 * s], bite, [width / 2, -6 * s]])
        centre = rng.uniform(lo + 20 * s + width / 2, hi - 20 * s - width / 2)
        side = int(rng.integers(4))
        if side == 0:
            poly = np.stack([centre + local[:, 0], lo + local[:, 1]], axis=1)
        elif side == 1:
            poly = np.stack([centre + local[:, 0], hi - 1 - local[:, 1]], axis=1)
        elif side == 2:
            poly = np.stack([lo + local[:, 1], centre + local[:, 0]], axis=1)
        else:
            poly = np.stack([hi - 1 - local[:, 1], centre + local[:, 0]], axis=1)
    cut = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(cut, [poly.round().astype(np.int32)], 255, cv2.LINE_AA)
    removed = (cut > 127) & (mask > 0.5)
    ring = cv2.dilate(cut, np.ones((3, 3), np.uint8), iterations=max(1, round(1.5 * s))) - cut
    surface += ring.astype(np.float32) * (rng.uniform(18, 32) / 255.0)
    mask *= 1.0 - cut.astype(np.float32) / 255.0
    return removed


PAINTERS: dict[str, Painter] = {
    "scratch": paint_scratch,
    "spot": paint_spot,
    "crack": paint_crack,
    "chip": paint_chip,
}
