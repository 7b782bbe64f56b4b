"""The built-in demo line: a synthetic camera over a conveyor of parts with known defects.

It lets the whole application run, be shown and be tested without a camera or
a data set: every frame carries its ground truth, so detection rates can be
measured end to end. Parts are textured tiles (ceramic or machined steel) on a
dark belt, with varying light and pose; a share of them carry a scratch, a
blowhole spot, a crack or a chipped corner/edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from inspector.acquisition.demo_defects import DEFECT_KINDS, PAINTERS
from inspector.acquisition.demo_textures import TextureBank, product_bank
from inspector.acquisition.pacing import Pacer
from inspector.acquisition.source import FrameSourceBase
from inspector.core.frame import Frame
from inspector.core.inspection import Defect

_MAX_ROTATION_DEG = 3.0
_MAX_SHIFT_PX = 4.0  # at 256 px; scaled with the frame size
_SECOND_DEFECT_P = 0.2  # share of defective parts that carry two defects


class DemoLine(FrameSourceBase):
    """A live, paced source of synthetic parts with ground truth.

    Args:
        rate_hz: Parts per second; ``0`` renders as fast as asked (benchmarks).
            An unpaced demo line is a replay (``live`` is False): the consumer sets
            the pace and nothing overflows.
        defect_rate: Share of parts that carry at least one defect, 0..1.
        size: Frame side in pixels (frames are square RGB).
        seed: Makes the sequence of parts reproducible (timestamps aside). The
            product itself (its surfaces) is the same for every seed, so a model
            fitted on one demo run inspects another.
        kinds: Defect kinds to inject, a subset of ``scratch``, ``spot``,
            ``crack``, ``chip``.
        max_parts: Stop after this many parts; ``None`` runs until closed.
        camera_id: Camera id written on every frame.

    Raises:
        ValueError: an argument is out of range or a kind is unknown.
    """

    def __init__(
        self,
        rate_hz: float = 10.0,
        defect_rate: float = 0.3,
        size: int = 256,
        seed: int | None = None,
        kinds: Sequence[str] = DEFECT_KINDS,
        max_parts: int | None = None,
        camera_id: str = "demo",
    ) -> None:
        if not 0.0 <= defect_rate <= 1.0:
            msg = f"defect_rate must be between 0 and 1, got {defect_rate}"
            raise ValueError(msg)
        if size < 64:
            msg = f"size must be at least 64 px so defects fit on the part, got {size}"
            raise ValueError(msg)
        unknown = sorted(set(kinds) - set(DEFECT_KINDS))
        if unknown or not kinds:
            msg = f"unknown defect kinds {unknown or '(none given)'}: use some of {DEFECT_KINDS}"
            raise ValueError(msg)
        if max_parts is not None and max_parts < 0:
            msg = f"max_parts must be None or >= 0, got {max_parts}"
            raise ValueError(msg)
        super().__init__(camera_id)
        self.rate_hz = float(rate_hz)
        self.live = self.rate_hz > 0
        self.defect_rate = float(defect_rate)
        self.size = int(size)
        self.kinds = tuple(kinds)
        self.max_parts = max_parts
        self._pacer = Pacer(self.rate_hz, self._closed, live=True)
        self._rng = np.random.default_rng(seed)
        self._bank: TextureBank = product_bank(self.size)
        pace = f"{self.rate_hz:g} parts/s" if self.rate_hz > 0 else "unpaced"
        self.name = f"Demo line ({pace}, {self.defect_rate:.0%} defective)"

    def __next__(self) -> Frame:
        if self.max_parts is not None and self._next_id >= self.max_parts:
            raise StopIteration
        trigger = self._pacer.wait()
        if trigger is None:
            raise StopIteration
        image, truth = self.render()
        return self._frame(
            image, self._take_part_id(), origin="demo", timestamp=trigger, truth=truth
        )

    def render(self) -> tuple[np.ndarray, tuple[Defect, ...]]:
        """Render the next part without pacing: the image and its ground-truth defects.

        Public so benchmarks and tests can time and inspect rendering alone;
        it advances the same random sequence as iteration.
        """
        rng, bank = self._rng, self._bank
        layout = bank.layout
        size = layout.size
        index = int(rng.integers(len(bank.parts)))
        surface = _orient(bank.parts[index], int(rng.integers(8)))
        surface += bank.bevel
        mask = bank.mask.copy()
        painted: list[tuple[str, np.ndarray]] = []
        if rng.random() < self.defect_rate:
            count = 2 if rng.random() < _SECOND_DEFECT_P else 1
            for kind in rng.choice(self.kinds, size=count):
                painted.append((str(kind), PAINTERS[str(kind)](surface, mask, layout, rng)))

        pose = cv2.getRotationMatrix2D(
            (size / 2, size / 2), rng.uniform(-_MAX_ROTATION_DEG, _MAX_ROTATION_DEG), 1.0
        )
        pose[:, 2] += rng.uniform(-_MAX_SHIFT_PX, _MAX_SHIFT_PX, size=2) * layout.scale
        warped = cv2.warpAffine(cv2.merge([surface, mask, bank.shadow]), pose, (size, size))
        part, alpha, shadow = cv2.split(warped)

        start = int(rng.integers(0, bank.belt.shape[1] - size))
        background = bank.belt[:, start : start + size] * (1.0 - 0.55 * shadow)
        background *= 1.0 - alpha
        part *= alpha
        angle, tilt = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.18)
        light = bank.grid_x * (tilt * np.cos(angle)) + bank.grid_y * (tilt * np.sin(angle))
        light += 1.0
        light *= rng.uniform(0.85, 1.15)
        background *= light
        part *= light
        ny, nx = rng.integers(0, size, size=2)
        sensor_noise = bank.noise[ny : ny + size, nx : nx + size]
        # one OpenCV call mixes belt, part and noise into RGB: broadcasting
        # (H, W, 1) x (3,) in numpy costs several times more than the rest
        mix = np.stack([bank.belt_tint, bank.tints[index], np.ones(3, np.float32)], axis=1)
        image = cv2.convertScaleAbs(cv2.transform(cv2.merge([background, part, sensor_noise]), mix))

        truth = tuple(
            defect
            for kind, where in painted
            if (defect := _to_defect(kind, where, pose, size)) is not None
        )
        return image, truth


def _orient(texture: np.ndarray, variant: int) -> np.ndarray:
    """One of the 8 rotations/mirrors of a square texture, as a fresh writable copy.

    Always a copy (``ascontiguousarray`` would hand back the bank's own array
    for the identity variant), since defects are painted on the result.
    """
    out = np.rot90(texture, variant % 4)
    if variant >= 4:
        out = out[:, ::-1]
    return out.copy(order="C")


def _to_defect(kind: str, where: np.ndarray, pose: np.ndarray, size: int) -> Defect | None:
    """Warp a canonical defect mask to the frame and describe it as a ground-truth Defect.

    Only the mask's neighbourhood is warped (a full-frame warp per defect
    would cost more than the rest of the rendering).
    """
    canvas = where.astype(np.uint8) * 255
    found = cv2.findNonZero(canvas)
    if found is None:
        return None
    x, y, w, h = cv2.boundingRect(found)
    x, y = max(x - 2, 0), max(y - 2, 0)
    w, h = min(w + 4, size - x), min(h + 4, size - y)
    corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], np.float64)
    moved = corners @ pose[:, :2].T + pose[:, 2]
    left, top = np.floor(moved.min(axis=0)).astype(int) - 1
    right, bottom = np.ceil(moved.max(axis=0)).astype(int) + 1
    left, top = max(int(left), 0), max(int(top), 0)
    right, bottom = min(int(right), size), min(int(bottom), size)
    if right <= left or bottom <= top:
        return None
    local = pose.copy()
    local[:, 2] = pose[:, :2] @ (x, y) + pose[:, 2] - (left, top)
    patch = cv2.warpAffine(canvas[y : y + h, x : x + w], local, (right - left, bottom - top))
    pixels = (patch > 60).astype(np.uint8)
    area = int(np.count_nonzero(pixels))
    if area == 0:
        return None
    bx, by, bw, bh = cv2.boundingRect(cv2.findNonZero(pixels))
    # thin lines can break into pieces when warped: grow them until one outline holds them
    padded = cv2.copyMakeBorder(pixels, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=0)
    for grow in (3, 5, 7):
        joined = cv2.dilate(padded, np.ones((grow, grow), np.uint8))
        contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if len(contours) == 1:
            break
    outline = max(contours, key=cv2.contourArea).reshape(-1, 2) + (left - 4, top - 4)
    outline = np.clip(outline, 0, size - 1).astype(np.int32)
    box = (bx + left, by + top, bw, bh)
    return Defect(kind=kind, confidence=1.0, box=box, area_px=area, contour=outline)
