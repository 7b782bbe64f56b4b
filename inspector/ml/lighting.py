"""The lighting a model was taught under, and frames that fall outside it.

Why: a model that standardises exposure (the default of ``inspector fit``)
sees every image at the same grey levels, so a dimming lamp or a wrong camera
exposure changes almost nothing it scores (a magnetic tile at 40 % of its
light passes). The line must still hear about it, and must not judge parts it
cannot see properly. So a package keeps the range of overall brightness (mean
grey level) and contrast (standard deviation of the grey levels) of the good
images it was fitted on, widened by a margin, and the station sends a frame
outside that range to the fail-safe bin with an alarm
(:mod:`inspector.pipeline.station`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.ml.package_fields import is_finite_number

MARGIN_SHARE = 0.25
"""The taught range is widened on each side by this share of its width ..."""
MARGIN_FLOOR = 0.10
"""... or by this share of its upper end, whichever is more (a line whose good parts
all look alike would otherwise alarm at the first flicker)."""
SAMPLED_SIDE = 256
"""Frames are measured on every n-th pixel so that about this many remain per side
(a few hundred microseconds for a 5 MP frame)."""
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def grey_levels(image: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of an RGB ``uint8`` image's grey levels (0-255).

    Raises:
        ValueError: the image is not ``(H, W, 3)`` or has no pixels.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        msg = f"lighting needs an RGB image (H, W, 3), got shape {image.shape}"
        raise ValueError(msg)
    step = max(1, max(image.shape[:2]) // SAMPLED_SIDE)
    grey = image[::step, ::step].astype(np.float32) @ _LUMA
    return float(grey.mean()), float(grey.std())


@dataclass(frozen=True)
class Span:
    """A closed interval of grey levels."""

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.low:.0f}-{self.high:.0f}"

    def joined(self, other: Span) -> Span:
        """The smallest span holding both."""
        return Span(min(self.low, other.low), max(self.high, other.high))


def _widened(values: Sequence[float], ceiling: float) -> Span:
    low, high = min(values), max(values)
    margin = max(MARGIN_SHARE * (high - low), MARGIN_FLOOR * high)
    return Span(max(0.0, low - margin), min(ceiling, high + margin))


@dataclass(frozen=True)
class LightingRange:
    """The brightness and contrast a model's good images had, margin included.

    Attributes:
        brightness: Mean grey level a frame may have.
        contrast: Standard deviation of the grey levels a frame may have.
        images: How many good images the range was measured on.
    """

    brightness: Span
    contrast: Span
    images: int

    @classmethod
    def taught(cls, levels: Iterable[tuple[float, float]]) -> LightingRange:
        """The range of these good images' :func:`grey_levels`, widened by the margin.

        Raises:
            ValueError: no images.
        """
        pairs = list(levels)
        if not pairs:
            msg = "the lighting range needs at least one good image"
            raise ValueError(msg)
        means, spreads = zip(*pairs, strict=True)
        return cls(_widened(means, 255.0), _widened(spreads, 128.0), len(pairs))

    def including(self, levels: Iterable[tuple[float, float]]) -> LightingRange:
        """This range grown to hold more good images (taught one by one on the line),
        each with the margin around it."""
        pairs = list(levels)
        if not pairs:
            return self
        new = LightingRange.taught(pairs)
        return LightingRange(
            self.brightness.joined(new.brightness),
            self.contrast.joined(new.contrast),
            self.images + len(pairs),
        )

    def fault(self, image: np.ndarray) -> str | None:
        """Why ``image`` is lit unlike the taught parts, for the operator; ``None`` if it is not."""
        return self.fault_of(grey_levels(image))

    def fault_of(self, levels: tuple[float, float]) -> str | None:
        """:meth:`fault` of an image whose :func:`grey_levels` are ``levels``."""
        brightness, contrast = levels
        problems = []
        if brightness not in self.brightness:
            side = "darker" if brightness < self.brightness.low else "brighter"
            problems.append(
                f"{side} than taught (mean grey {brightness:.0f}, taught {self.brightness})"
            )
        if contrast not in self.contrast:
            side = "less" if contrast < self.contrast.low else "more"
            problems.append(
                f"{side} contrast than taught (grey spread {contrast:.0f}, taught {self.contrast})"
            )
        if not problems:
            return None
        return (
            f"lighting unlike the good parts the model learnt from: {'; '.join(problems)}; "
            "check the lamp and the camera's exposure, or teach good parts under the new lighting"
        )

    def as_json(self) -> dict[str, Any]:
        """The ``lighting`` entry of ``model.json``."""
        return {
            "brightness": [round(self.brightness.low, 2), round(self.brightness.high, 2)],
            "contrast": [round(self.contrast.low, 2), round(self.contrast.high, 2)],
            "images": self.images,
        }

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> LightingRange:
        """Read :meth:`as_json`'s form back.

        Raises:
            ValueError: a span is not two finite numbers in order within the grey
                scale, or ``images`` is not a positive count.
        """
        spans = []
        for key, ceiling in (("brightness", 255.0), ("contrast", 128.0)):
            value = entry.get(key)
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(is_finite_number(v) for v in value)
                or not 0.0 <= value[0] <= value[1] <= ceiling
            ):
                msg = f"'lighting.{key}' is {value!r}, expected [low, high] within 0-{ceiling:.0f}"
                raise ValueError(msg)
            spans.append(Span(float(value[0]), float(value[1])))
        images = entry.get("images")
        if not isinstance(images, int) or isinstance(images, bool) or images < 1:
            msg = f"'lighting.images' is {images!r}, expected a positive count"
            raise ValueError(msg)
        return cls(spans[0], spans[1], images)


def scorer_lighting(scorer: object) -> LightingRange | None:
    """A scorer's taught lighting: anomaly models (and scorers holding one) fitted since
    session 10 keep it; other scorers and older models have none, and are not checked."""
    lighting = getattr(scorer, "lighting", None)
    return lighting if isinstance(lighting, LightingRange) else None


def lighting_entry(
    meta: Mapping[str, Any], fail: Callable[[str], Exception]
) -> LightingRange | None:
    """The ``lighting`` entry of a package's ``model.json``; ``None`` without one
    (packages before session 10).

    Raises:
        Exception: ``fail(problem)`` (the package's own error) when the entry is not
            a lighting range.
    """
    entry = meta.get("lighting")
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise fail(f"'lighting' is {entry!r}, expected an object: refit the model")
    try:
        return LightingRange.from_json(entry)
    except ValueError as exc:
        raise fail(f"{exc}: refit the model") from exc
