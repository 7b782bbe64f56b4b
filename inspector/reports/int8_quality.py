"""What INT8 quantisation cost: the fp32 and INT8 networks judged on the same labelled images.

A quantised model is only worth its speed if it still catches the same
defects at the same false-reject rate. The export measures both networks on
one labelled set and refuses the INT8 one when its image AUROC falls, or its
escape rate at the threshold rises, by more than the configured limits; the
figures are kept in the package so ``evaluate`` and a promotion can show them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from inspector.reports.evaluation_report import QualitySummary

MAX_AUROC_DROP = 0.01
"""Default: image AUROC may fall by at most this much."""
MAX_ESCAPE_INCREASE = 0.02
"""Default: the escape rate at the model's threshold may rise by at most this much."""
MAX_FALSE_REJECT_INCREASE = 0.02
"""Default: the false-reject rate at the model's threshold may rise by at most this much."""


@dataclass(frozen=True)
class Int8Quality:
    """The fp32 and INT8 networks' figures on one labelled set.

    Attributes:
        images: Labelled images both were evaluated on.
        auroc_fp32: Image AUROC of the fp32 network (None without both classes).
        auroc_int8: Image AUROC of the INT8 network.
        escape_fp32: Defective parts accepted at the threshold, fp32.
        escape_int8: The same for INT8.
        false_reject_fp32: Good parts not accepted at the threshold, fp32.
        false_reject_int8: The same for INT8.
        latency_ms_fp32: Mean inference time per image, fp32.
        latency_ms_int8: The same for INT8.
        escape_at_1pct_fp32: Defective parts accepted at the threshold that rejects
            1 % of the good ones, fp32 (None without both classes): the networks
            compared at one operating point, whatever their calibrated thresholds.
        escape_at_1pct_int8: The same for INT8.
    """

    images: int
    auroc_fp32: float | None
    auroc_int8: float | None
    escape_fp32: float
    escape_int8: float
    false_reject_fp32: float
    false_reject_int8: float
    latency_ms_fp32: float
    latency_ms_int8: float
    escape_at_1pct_fp32: float | None = None
    escape_at_1pct_int8: float | None = None

    @classmethod
    def of(cls, images: int, fp32: QualitySummary, int8: QualitySummary) -> Int8Quality:
        """The comparison of two summaries of the same images."""
        return cls(
            images=images,
            auroc_fp32=fp32.image_auroc,
            auroc_int8=int8.image_auroc,
            escape_fp32=fp32.escape_rate,
            escape_int8=int8.escape_rate,
            false_reject_fp32=fp32.false_reject_rate,
            false_reject_int8=int8.false_reject_rate,
            latency_ms_fp32=fp32.latency_ms_mean,
            latency_ms_int8=int8.latency_ms_mean,
            escape_at_1pct_fp32=_escape_at(fp32, 0.01),
            escape_at_1pct_int8=_escape_at(int8, 0.01),
        )

    @property
    def auroc_drop(self) -> float | None:
        """How much image AUROC fell (negative: it rose)."""
        if self.auroc_fp32 is None or self.auroc_int8 is None:
            return None
        return self.auroc_fp32 - self.auroc_int8

    @property
    def escape_increase(self) -> float:
        """How much the escape rate at the threshold rose (negative: it fell)."""
        return self.escape_int8 - self.escape_fp32

    @property
    def false_reject_increase(self) -> float:
        """How much the false-reject rate at the threshold rose (negative: it fell)."""
        return self.false_reject_int8 - self.false_reject_fp32

    @property
    def speedup(self) -> float:
        """fp32 time per image over INT8 time per image (above 1: INT8 is faster)."""
        if not self.latency_ms_int8 > 0:
            return math.nan
        return self.latency_ms_fp32 / self.latency_ms_int8

    def as_dict(self) -> dict[str, float | int | None]:
        """The figures for ``model.json`` and reports, with the derived ones."""
        return {
            **asdict(self),
            "auroc_drop": self.auroc_drop,
            "escape_increase": self.escape_increase,
            "false_reject_increase": self.false_reject_increase,
            "speedup": self.speedup,
        }

    def summary(self) -> str:
        """One line for a terminal."""
        auroc = (
            "image AUROC n/a (needs good and defective images)"
            if self.auroc_drop is None
            else f"image AUROC {self.auroc_fp32:.3f} -> {self.auroc_int8:.3f}"
        )
        return (
            f"{auroc}; escapes at the threshold {self.escape_fp32:.1%} -> "
            f"{self.escape_int8:.1%}{self._at_one_percent()}; false rejects "
            f"{self.false_reject_fp32:.1%} -> "
            f"{self.false_reject_int8:.1%}; {self.latency_ms_fp32:.1f} -> "
            f"{self.latency_ms_int8:.1f} ms per image ({self.speedup:.2f}x) on {self.images} images"
        )

    def _at_one_percent(self) -> str:
        if self.escape_at_1pct_fp32 is None or self.escape_at_1pct_int8 is None:
            return ""
        return (
            f" (at 1% false rejects {self.escape_at_1pct_fp32:.1%} -> "
            f"{self.escape_at_1pct_int8:.1%})"
        )


def _escape_at(summary: QualitySummary, rate: float) -> float | None:
    """Escapes at the operating point of ``rate`` false rejects, if the summary has it."""
    return next(
        (p.escape_rate for p in summary.operating_points if p.false_reject_rate == rate), None
    )


def refusal(
    quality: Int8Quality,
    *,
    max_auroc_drop: float = MAX_AUROC_DROP,
    max_escape_increase: float = MAX_ESCAPE_INCREASE,
    max_false_reject_increase: float = MAX_FALSE_REJECT_INCREASE,
) -> str | None:
    """Why the INT8 network must not be used, or None when it keeps the quality.

    Raises:
        ValueError: a limit is negative or not a number, or the labelled set
            cannot measure AUROC (it needs good and defective images).
    """
    for name, limit in (
        ("max_auroc_drop", max_auroc_drop),
        ("max_escape_increase", max_escape_increase),
        ("max_false_reject_increase", max_false_reject_increase),
    ):
        if not limit >= 0:
            msg = f"{name} must be a number >= 0, got {limit!r}"
            raise ValueError(msg)
    drop = quality.auroc_drop
    if drop is None:
        msg = (
            "the quality check needs good and defective images (<class>/<image> with a "
            "'good' class and at least one defect class) to measure image AUROC"
        )
        raise ValueError(msg)
    problems = []
    if drop > max_auroc_drop:
        problems.append(
            f"image AUROC falls by {drop:.3f} ({quality.auroc_fp32:.3f} -> "
            f"{quality.auroc_int8:.3f}; the limit is {max_auroc_drop:g})"
        )
    if quality.escape_increase > max_escape_increase:
        problems.append(
            f"the escape rate at the threshold rises by {quality.escape_increase:.1%} "
            f"({quality.escape_fp32:.1%} -> {quality.escape_int8:.1%}; the limit is "
            f"{max_escape_increase:.1%})" + _threshold_hint(quality)
        )
    if quality.false_reject_increase > max_false_reject_increase:
        problems.append(
            f"the false-reject rate at the threshold rises by {quality.false_reject_increase:.1%} "
            f"({quality.false_reject_fp32:.1%} -> {quality.false_reject_int8:.1%}; the limit is "
            f"{max_false_reject_increase:.1%})"
        )
    return "; ".join(problems) or None


def _threshold_hint(quality: Int8Quality) -> str:
    """When INT8 ranks the parts as well as fp32 and only its calibrated threshold
    lands elsewhere, say so: then the threshold, not the network, is what to change."""
    fp32, int8 = quality.escape_at_1pct_fp32, quality.escape_at_1pct_int8
    if fp32 is None or int8 is None or int8 > fp32:
        return ""
    return (
        f", though at 1% false rejects it lets through {int8:.1%} against fp32's {fp32:.1%}: "
        "the INT8 threshold landed elsewhere among the good parts' highest scores; "
        "set the line's threshold from evaluate's operating points"
    )
