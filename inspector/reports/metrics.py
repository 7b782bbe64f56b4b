"""Detection-quality metrics: numpy (and OpenCV for region labelling) only, no torch.

The shop-floor question is "how many defective parts escape at the
false-reject rate the line can afford", so next to the ranking metrics of the
literature (image AUROC, pixel AUROC, AUPRO as in MVTec AD) this module gives
the rates at a threshold: false-reject rate (good parts rejected) and escape
rate (defective parts accepted), overall and per defect class, and the escape
rate at a given false-reject rate.

Conventions: a higher score means more anomalous; a part is rejected when its
score is at or above the threshold (as :func:`inspector.decision.decide` does).
Labels are ``True`` for defective parts (or defect pixels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import cv2
import numpy as np

AUPRO_FPR_LIMIT = 0.3
"""MVTec AD integrates the PRO curve up to this false-positive rate."""
MAX_PIXELS = 32_000_000
"""Pixels the pixel metrics use at most, sampled on a regular grid above it: memory
stays bounded (about 1.3 GB at the peak of AUPRO) and a figure moves by far less
than its sampling error."""


class RocCurve(NamedTuple):
    """Points of a ROC curve, from (0, 0) to (1, 1).

    Attributes:
        fpr: False-positive rate at each point (good parts rejected).
        tpr: True-positive rate at each point (defective parts caught).
        thresholds: Score threshold of each point (reject when score >= it);
            the first is ``inf`` (nothing rejected).
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


def _check(
    scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if s.shape != y.shape:
        msg = f"{s.size} scores but {y.size} labels: pass one label per score"
        raise ValueError(msg)
    if not np.isfinite(s).all():
        msg = "scores contain nan or inf: drop the parts that were not inspected first"
        raise ValueError(msg)
    return s, y


def _need_both(y: np.ndarray, what: str) -> None:
    if y.all() or not y.any():
        msg = f"{what} needs both defective and good samples; this set has only one kind"
        raise ValueError(msg)


def roc_curve(
    scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray
) -> RocCurve:
    """ROC curve with one point per distinct score (ties move together).

    Raises:
        ValueError: lengths differ, a score is not finite, or only one class is present.
    """
    s, y = _check(scores, labels)
    _need_both(y, "a ROC curve")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.diff(s) != 0, True]
    tp = np.cumsum(y)[last_of_tie]
    fp = np.cumsum(~y)[last_of_tie]
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    return RocCurve(fpr=fpr, tpr=tpr, thresholds=np.r_[np.inf, s[last_of_tie]])


def auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve: the chance a defective part outscores a good one.

    Ties count one half (the Mann-Whitney reading), which is what the
    trapezoidal area of :func:`roc_curve` gives.

    Raises:
        ValueError: lengths differ, a score is not finite, or only one class is present.
    """
    curve = roc_curve(scores, labels)
    return float(np.trapezoid(curve.tpr, curve.fpr))


def pixel_auroc(
    maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], *, max_pixels: int = MAX_PIXELS
) -> float:
    """AUROC over all pixels of all images: defect pixels against defect-free ones.

    Args:
        maps: Anomaly maps, one per image (any sizes).
        masks: Ground-truth masks of the same shapes; non-zero is defect.
        max_pixels: Above this many pixels in all, every image is subsampled
            on a regular grid (the same stride for all, :func:`sampling_step`),
            which keeps memory bounded and changes the area by far less than
            its sampling error.

    Raises:
        ValueError: a map and its mask differ in shape, or no image has a defect pixel.
    """
    step = sampling_step(maps, masks, max_pixels)
    flat_maps = np.concatenate([np.asarray(m, np.float32)[::step, ::step].ravel() for m in maps])
    flat_masks = np.concatenate([(np.asarray(k)[::step, ::step] > 0).ravel() for k in masks])
    _need_both(flat_masks, "a pixel AUROC")
    return auroc_of_samples(flat_maps[flat_masks], flat_maps[~flat_masks])


def auroc_of_samples(positives: np.ndarray, negatives: np.ndarray) -> float:
    """The chance a positive outscores a negative, ties one half (Mann–Whitney).

    The same area :func:`auroc` takes under the ROC curve, from two sorts and
    binary searches instead of a stable sort of everything: on the millions of
    pixels of an evaluation that is the difference between seconds and a minute.
    """
    if positives.size == 0 or negatives.size == 0:
        msg = "an AUROC needs both defective and good samples; this set has only one kind"
        raise ValueError(msg)
    if not (np.isfinite(positives).all() and np.isfinite(negatives).all()):
        msg = "scores contain nan or inf: drop the parts that were not inspected first"
        raise ValueError(msg)
    below = np.sort(negatives)
    ranked = np.sort(positives)
    under = int(np.searchsorted(below, ranked, side="left").sum())
    under_or_tied = int(np.searchsorted(below, ranked, side="right").sum())
    return (under + under_or_tied) / 2 / (ranked.size * below.size)


def sampling_step(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], max_pixels: int) -> int:
    """The grid stride at which all ``maps`` together keep at most about ``max_pixels``.

    Raises:
        ValueError: no maps, one mask per map missing, or a map and its mask differ in shape.
    """
    if len(maps) != len(masks) or not maps:
        msg = f"{len(maps)} maps and {len(masks)} masks: pass one mask per map, at least one"
        raise ValueError(msg)
    for i, (m, k) in enumerate(zip(maps, masks, strict=True)):
        if m.shape != k.shape:
            msg = f"map {i} has shape {m.shape} but its mask {k.shape}: resize the map first"
            raise ValueError(msg)
    total = sum(m.size for m in maps)
    return max(1, int(np.ceil(np.sqrt(total / max_pixels))))


def pro_curve(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    *,
    max_pixels: int = MAX_PIXELS,
    regions: Sequence[np.ndarray | None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-region-overlap curve: (false-positive rate, mean region overlap) per threshold.

    As in the MVTec AD evaluation code: each connected defect region
    (8-connectivity) weighs the same whatever its size, so a small crack
    counts as much as a large break; the false-positive rate is over all
    defect-free pixels of all images. Above ``max_pixels`` pixels in all, the
    pixels are sampled on the grid :func:`pixel_auroc` uses: regions are found
    at full size, each region's overlap is measured on its sampled pixels, and
    a region the grid misses entirely is left out.

    Args:
        maps: Anomaly maps, one per image.
        masks: Ground-truth masks of the same shapes; non-zero is defect.
        max_pixels: See above.
        regions: Per image, its regions already labelled (``1..n``, 0 where
            defect-free, the mask's shape), or ``None`` to label its mask here: for
            maps and masks that were sampled already, whose regions must be found
            before sampling (a thin crack would fall apart after it).

    Raises:
        ValueError: shapes differ, no image has a defect region, or every region
            fell between the sampling grid.
    """
    step = sampling_step(maps, masks, max_pixels)
    labelled_regions = regions if regions is not None else [None] * len(masks)
    if len(labelled_regions) != len(masks):
        msg = f"{len(labelled_regions)} region labellings for {len(masks)} masks: one per mask"
        raise ValueError(msg)
    scores, shares = [], []
    regions_found = regions_sampled = 0
    for amap, mask, labelled in zip(maps, masks, labelled_regions, strict=True):
        if labelled is None:
            _, labelled = cv2.connectedComponents((mask > 0).astype(np.uint8), connectivity=8)
        elif labelled.shape != mask.shape:
            msg = f"region labels of shape {labelled.shape} for a mask of {mask.shape}"
            raise ValueError(msg)
        count = int(labelled.max()) + 1
        regions_found += count - 1
        labelled = labelled[::step, ::step]
        share = np.full(labelled.shape, -1.0, np.float32)  # -1 marks a defect-free pixel
        if count > 1:
            sizes = np.bincount(labelled.ravel(), minlength=count).astype(np.float64)
            seen = sizes[1:] > 0
            weights = np.r_[-1.0, np.where(seen, 1.0 / np.maximum(sizes[1:], 1.0), 0.0)]
            share = weights[labelled].astype(np.float32)
            regions_sampled += int(seen.sum())
        scores.append(np.asarray(amap, np.float32)[::step, ::step].ravel())
        shares.append(share.ravel())
    if regions_found == 0:
        msg = "no image has a defect region in its mask: AUPRO needs defective images with masks"
        raise ValueError(msg)
    if regions_sampled == 0:
        msg = (
            f"all {regions_found} defect regions fell between the sampling grid (every "
            f"{step}th pixel): give a larger max_pixels"
        )
        raise ValueError(msg)
    return _pro_points(np.concatenate(scores), np.concatenate(shares), regions_sampled)


def _pro_points(
    scores: np.ndarray, shares: np.ndarray, regions: int
) -> tuple[np.ndarray, np.ndarray]:
    """The PRO curve from each pixel's score and region share (-1: defect-free pixel).

    One sort and running sums, in as few full-size arrays as the arithmetic
    allows: a large set's pixels are what an evaluation's memory peaks on (the
    shares are float32, which moves the curve by at most about 1e-7). The sort
    need not be stable: the sums are read at the end of each run of tied scores
    only.
    """
    order = np.argsort(-scores)  # any order within a tie: only whole ties are read
    sorted_scores = scores[order]
    last_of_tie = np.r_[np.diff(sorted_scores) != 0, True]
    del sorted_scores
    shares = shares[order]
    del order
    defect_free = shares < 0
    ok_pixels = int(defect_free.sum())
    fpr = np.cumsum(defect_free, dtype=np.int64)[last_of_tie] / max(ok_pixels, 1)
    np.maximum(shares, 0.0, out=shares)
    pro = np.cumsum(shares, dtype=np.float64)[last_of_tie] / regions
    fpr = np.r_[0.0, np.clip(fpr, 0.0, 1.0)]
    pro = np.r_[0.0, np.clip(pro, 0.0, 1.0)]
    return fpr, pro


def aupro(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    *,
    fpr_limit: float = AUPRO_FPR_LIMIT,
    max_pixels: int = MAX_PIXELS,
    regions: Sequence[np.ndarray | None] | None = None,
) -> float:
    """Area under the PRO curve up to ``fpr_limit``, divided by ``fpr_limit`` (0..1).

    The curve is cut at ``fpr_limit`` with the PRO value there linearly
    interpolated, as in the MVTec AD evaluation, so 1.0 is perfect. Pixels
    are sampled above ``max_pixels``, and ``regions`` given, as :func:`pro_curve` says.

    Raises:
        ValueError: shapes differ, no defect region, or ``fpr_limit`` not in (0, 1].
    """
    if not 0.0 < fpr_limit <= 1.0:
        msg = f"fpr_limit must be in (0, 1], got {fpr_limit}"
        raise ValueError(msg)
    fpr, pro = pro_curve(maps, masks, max_pixels=max_pixels, regions=regions)
    return _partial_area(fpr, pro, fpr_limit) / fpr_limit


def _partial_area(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoidal area under ``y(x)`` for ``x`` in ``[0, limit]``; ``x`` non-decreasing."""
    inside = x <= limit
    xs, ys = x[inside], y[inside]
    if xs[-1] < limit and inside.sum() < x.size:
        j = int(np.argmax(~inside))  # first point past the limit
        x0, x1, y0, y1 = x[j - 1], x[j], y[j - 1], y[j]
        y_limit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0) if x1 > x0 else y1
        xs, ys = np.r_[xs, limit], np.r_[ys, y_limit]
    return float(np.trapezoid(ys, xs))


def false_reject_rate(
    scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray, threshold: float
) -> float:
    """Share of good parts rejected (score >= threshold); ``nan`` without good parts."""
    s, y = _check(scores, labels)
    good = s[~y]
    return float((good >= threshold).mean()) if good.size else float("nan")


def escape_rate(
    scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray, threshold: float
) -> float:
    """Share of defective parts accepted (score < threshold); ``nan`` without defective parts."""
    s, y = _check(scores, labels)
    bad = s[y]
    return float((bad < threshold).mean()) if bad.size else float("nan")


def escape_rate_per_class(
    scores: Sequence[float] | np.ndarray,
    classes: Sequence[str],
    threshold: float,
    *,
    good_class: str = "good",
) -> dict[str, float]:
    """Escape rate of each defect class at ``threshold``, classes in sorted order.

    Raises:
        ValueError: lengths differ or a score is not finite.
    """
    names = np.asarray(classes, dtype=object)
    s, _ = _check(scores, names != good_class)
    return {
        str(name): float((s[names == name] < threshold).mean())
        for name in sorted(set(names.tolist()) - {good_class})
    }


def threshold_at_false_reject_rate(
    scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray, rate: float
) -> float:
    """Lowest threshold whose false-reject rate on these good parts is at most ``rate``.

    The threshold sits just above a good score (the next float up), so "at
    most" holds exactly on this set; with ``rate`` 0 it is just above the
    highest good score. On unseen parts the rate will scatter around it.

    Raises:
        ValueError: ``rate`` not in [0, 1), or there are no good parts.
    """
    if not 0.0 <= rate < 1.0:
        msg = f"false-reject rate must be in [0, 1), got {rate}"
        raise ValueError(msg)
    s, y = _check(scores, labels)
    good = np.sort(s[~y])[::-1]
    if good.size == 0:
        msg = "no good parts to set a false-reject rate on: add good images to the data"
        raise ValueError(msg)
    allowed = int(np.floor(rate * good.size + 1e-9))  # good parts that may be rejected
    # Any threshold at or below good[allowed] rejects allowed + 1 good parts; the next
    # float up rejects only those strictly above it (fewer when they tie with it).
    return float(np.nextafter(good[allowed], np.inf))


def escape_at_false_reject_rate(
    scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray, rate: float
) -> tuple[float, float]:
    """Escape rate at the lowest threshold that keeps false rejects at or below ``rate``.

    Returns:
        ``(escape rate, threshold)``.

    Raises:
        ValueError: ``rate`` not in [0, 1), or only one kind of part is present.
    """
    s, y = _check(scores, labels)
    _need_both(y, "an escape rate at a false-reject rate")
    threshold = threshold_at_false_reject_rate(s, y, rate)
    return escape_rate(s, y, threshold), threshold


def class_counts(classes: Sequence[str]) -> Mapping[str, int]:
    """How many samples of each class, in sorted class order (for dataset summaries)."""
    names, counts = np.unique(np.asarray(classes, dtype=object).astype(str), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


class DecisionRates(NamedTuple):
    """What the gate did with a set of parts, against the truth.

    Attributes:
        false_reject_rate: Share of good parts not accepted (REJECT or REVIEW,
            both of which go to the reject bin).
        escape_rate: Share of defective parts accepted.
        escape_by_class: Escape rate per defect class, in sorted class order.
    """

    false_reject_rate: float
    escape_rate: float
    escape_by_class: dict[str, float]


def decision_rates(
    accepted: Sequence[bool] | np.ndarray, classes: Sequence[str], *, good_class: str = "good"
) -> DecisionRates:
    """False-reject and escape rates of actual verdicts (``nan`` where a kind is missing).

    Unlike :func:`false_reject_rate` this counts what the decision rules did,
    including the review band and the minimum defect area, so it is the rate
    the line would see.

    Raises:
        ValueError: lengths differ.
    """
    ok = np.asarray(accepted).ravel().astype(bool)
    names = np.asarray(classes, dtype=object).ravel()
    if ok.shape != names.shape:
        msg = f"{ok.size} verdicts but {names.size} classes: pass one class per part"
        raise ValueError(msg)
    good = names == good_class

    def share(mask: np.ndarray) -> float:
        return float(mask.mean()) if mask.size else float("nan")

    per_class = {str(n): share(ok[names == n]) for n in sorted(set(names.tolist()) - {good_class})}
    return DecisionRates(share(~ok[good]), share(ok[~good]), per_class)
