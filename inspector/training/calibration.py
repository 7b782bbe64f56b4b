"""Turning good-part scores into a default threshold and branch normalisation.

Fitting ends here: held-out good parts (and, for the image-level branch,
each training image against the others) describe how good parts score, and
these functions turn that into the numbers a package carries. Kept apart
from the fitting loop so the rules can be read, and tested, on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inspector.ml.anomaly_result import ScoreNormalisation

MARGIN_STD = 1.0
"""Threshold margin above the highest held-out good score, in held-out standard deviations."""
MARGIN_MIN = 0.05
"""Smallest margin, as a fraction of that highest score (for very uniform held-out sets)."""
SCALE_FLOOR = 0.05
"""Smallest branch scale, as a fraction of its centre (see :func:`normalisation_of`)."""


@dataclass(frozen=True)
class ScoreStats:
    """Summary of a set of image scores."""

    count: int
    min: float
    mean: float
    std: float
    max: float

    @classmethod
    def of(cls, scores: Sequence[float]) -> ScoreStats:
        """Statistics of ``scores`` (``std`` with ``ddof=1``; 0 for a single score)."""
        values = np.asarray(scores, dtype=np.float64)
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        return cls(values.size, float(values.min()), float(values.mean()), std, float(values.max()))


def calibrate_threshold(
    holdout_scores: Sequence[float], target_false_reject: float | None = None
) -> float:
    """Default threshold: the highest held-out good score plus a margin, or with
    ``target_false_reject`` and enough scores, the score that many good parts exceed.

    The margin is ``MARGIN_STD`` standard deviations of the held-out scores,
    and at least ``MARGIN_MIN`` of the highest one. The maximum of a few
    held-out goods underestimates how high an unseen good part can score (for
    20 normal samples it sits near mean + 1.9 sd, for 5 near mean + 1.2 sd), so
    the margin buys a low false-reject rate on day one; defects on a PatchCore
    map usually score far above the good spread, so little sensitivity is
    lost. It is only a default: ``decision`` owns the threshold in force and an
    evaluation on real defects should refine it.

    The maximum rule buys that low false-reject rate with escapes: on
    magnetic-tile, one odd good tile among 119 held out set a threshold that
    let 88 % of defective tiles pass. A line that can afford, say, 1 % false
    rejects says so with ``target_false_reject``; the threshold is then the
    ``1 - target`` quantile of the good scores, used only when there are at
    least ``2 / target`` of them (fewer cannot locate that quantile).
    """
    stats = ScoreStats.of(holdout_scores)
    if target_false_reject is not None:
        if not 0.0 < target_false_reject < 0.5:
            msg = f"target false-reject rate must be in (0, 0.5), got {target_false_reject}"
            raise ValueError(msg)
        if len(holdout_scores) >= 2.0 / target_false_reject:
            values = np.asarray(holdout_scores, dtype=np.float64)
            return float(np.quantile(values, 1.0 - target_false_reject, method="higher"))
    return stats.max + max(MARGIN_STD * stats.std, MARGIN_MIN * abs(stats.max))


def threshold_rule(count: int, target_false_reject: float | None) -> str:
    if target_false_reject is not None and count >= 2.0 / target_false_reject:
        return f"{1 - target_false_reject:.3g} quantile of {count} good scores"
    return f"max + max({MARGIN_STD} * std, {MARGIN_MIN} * max) of {count} good scores"


def normalisation_of(
    scores: Sequence[tuple[float, float | None]], global_extra: Sequence[float] = ()
) -> ScoreNormalisation:
    """Each branch's centre (mean) and scale (standard deviation) on good parts.

    ``scores`` are the held-out parts' (patch, image-level) scores;
    ``global_extra`` adds image-level distances measured another way (each
    training image to its nearest other one), because a handful of held-out
    images underestimates how far a new good part can land. Each scale is at
    least ``SCALE_FLOOR`` of its centre, so a very uniform set cannot make
    every small deviation look like many standard deviations.
    """
    patch = ScoreStats.of([p for p, _ in scores])
    glob = ScoreStats.of([g for _, g in scores if g is not None] + list(global_extra))
    return ScoreNormalisation(
        patch_centre=patch.mean,
        patch_scale=max(patch.std, SCALE_FLOOR * abs(patch.mean), 1e-6),
        global_centre=glob.mean,
        global_scale=max(glob.std, SCALE_FLOOR * abs(glob.mean), 1e-6),
    )


def branch_calibration(
    branches: Sequence[tuple[float, float]], leave_one_out: Sequence[float]
) -> tuple[ScoreNormalisation, list[float], list[float]]:
    """The two-branch model's normalisation and the good scores its threshold comes from.

    Args:
        branches: Held-out good parts' raw (patch, image-level) scores.
        leave_one_out: Each training image's image-level distance to the others.

    Returns:
        The normalisation (:func:`normalisation_of`); the held-out parts' image
        scores (the larger normalised branch score, exactly as the model computes
        it); and those scores plus the leave-one-out ones normalised, the good
        parts the threshold is calibrated on (training images measured against the
        others widen its view of good variation).
    """
    norm = normalisation_of(branches, leave_one_out)
    scores = [
        max(
            (p - norm.patch_centre) / norm.patch_scale, (g - norm.global_centre) / norm.global_scale
        )
        for p, g in branches
    ]
    extra = [(g - norm.global_centre) / norm.global_scale for g in leave_one_out]
    return norm, scores, scores + extra
