"""Fitting an anomaly model from images of good parts only.

Fitting a PatchCore model is not gradient training: the backbone is frozen,
good-patch features are collected, thinned to a memory bank by a greedy
coreset, and the default threshold is calibrated on held-out good images
scored through :class:`~inspector.ml.inferencer.AnomalyInferencer`, the very
path the line will use. Runs in its own process when started from the UI.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from inspector.acquisition.image_files import list_images, read_image
from inspector.core.errors import SourceError
from inspector.ml.coreset import greedy_coreset
from inspector.ml.device import device_name, inference_context, select_device
from inspector.ml.efficientnet_lite import INPUT_MEAN, INPUT_STD
from inspector.ml.inferencer import AnomalyInferencer, build_backbone
from inspector.ml.package import METADATA_FILE, ModelPackage, check_name, save_package
from inspector.ml.patchcore import (
    DEFAULT_LAYERS,
    DEFAULT_SIGMA,
    PatchCore,
    check_input_size,
)
from inspector.ml.preprocess import check_image, preprocess
from inspector.training.evaluate import without_masks

MIN_TRAIN = 4
"""Fewer good images than this cannot describe the normal variation of a part."""
MARGIN_STD = 1.0
"""Threshold margin above the highest held-out good score, in held-out standard deviations."""
MARGIN_MIN = 0.05
"""Smallest margin, as a fraction of that highest score (for very uniform held-out sets)."""
BATCH = 8

Progress = Callable[[str, int, int], None]
ImageItem = np.ndarray | Path


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


@dataclass(frozen=True)
class FitResult:
    """What a fit produced.

    Attributes:
        package_dir: Where the model package was saved.
        version: The package's version string.
        threshold: Calibrated default threshold (see :func:`calibrate_threshold`).
        n_train: Good images the memory bank was built from.
        n_holdout: Good images the threshold was calibrated on.
        bank_size: Patch features kept in the memory bank.
        holdout: Statistics of the held-out good images' scores.
        seconds: Wall time of the fit.
    """

    package_dir: Path
    version: str
    threshold: float
    n_train: int
    n_holdout: int
    bank_size: int
    holdout: ScoreStats
    seconds: float


def calibrate_threshold(holdout_scores: Sequence[float]) -> float:
    """Default threshold: the highest held-out good score plus a margin.

    The margin is ``MARGIN_STD`` standard deviations of the held-out scores,
    and at least ``MARGIN_MIN`` of the highest one. The maximum of a few
    held-out goods underestimates how high an unseen good part can score (for
    20 normal samples it sits near mean + 1.9 sd, for 5 near mean + 1.2 sd), so
    the margin buys a low false-reject rate on day one; defects on a PatchCore
    map usually score far above the good spread, so little sensitivity is
    lost. It is only a default: ``decision`` owns the threshold in force and an
    evaluation on real defects should refine it.
    """
    stats = ScoreStats.of(holdout_scores)
    return stats.max + max(MARGIN_STD * stats.std, MARGIN_MIN * abs(stats.max))


def _collect(source: Sequence[np.ndarray] | str | Path, role: str) -> tuple[list[ImageItem], str]:
    """List the images of ``source`` without decoding files yet (memory stays flat)."""
    if isinstance(source, str | Path):
        return list(without_masks(list_images(source))), f"folder {Path(source)}"
    items = [check_image(image, i) for i, image in enumerate(source)]
    return items, f"{len(items)} {role} images given as arrays"


def _split(
    items: list[ImageItem], fraction: float, seed: int
) -> tuple[list[ImageItem], list[ImageItem]]:
    order = np.random.default_rng(seed).permutation(len(items))
    n_holdout = max(1, round(fraction * len(items)))
    return [items[i] for i in order[n_holdout:]], [items[i] for i in order[:n_holdout]]


class _Reader:
    """Decodes images batch by batch, noting unreadable files and image sizes."""

    def __init__(self) -> None:
        self.unreadable: list[str] = []
        self.sizes: Counter[str] = Counter()

    def batches(self, items: Sequence[ImageItem]) -> Iterator[tuple[list[np.ndarray], int]]:
        """Yield ``(decoded images, items done so far)`` per batch."""
        for start in range(0, len(items), BATCH):
            images = []
            for item in items[start : start + BATCH]:
                try:
                    image = read_image(item) if isinstance(item, Path) else item
                except SourceError as exc:
                    self.unreadable.append(str(exc))
                    continue
                self.sizes[f"{image.shape[1]}x{image.shape[0]}"] += 1
                images.append(image)
            yield images, min(start + BATCH, len(items))

    def check(self) -> None:
        if self.unreadable:
            shown = "; ".join(self.unreadable[:10])
            more = f" (and {len(self.unreadable) - 10} more)" if len(self.unreadable) > 10 else ""
            msg = (
                f"{len(self.unreadable)} good image(s) cannot be read: {shown}{more}. "
                "Fix or remove them and fit again"
            )
            raise SourceError(msg)


def _extract_features(
    reader: _Reader,
    items: Sequence[ImageItem],
    input_size: int,
    layers: Sequence[int],
    device: torch.device,
    report: Progress,
) -> tuple[torch.Tensor, str]:
    """Patch features ``(P, D)`` of all ``items`` on ``device``, and the backbone's SHA-256.

    Uses the same backbone, preprocessing and numeric context as
    :class:`AnomalyInferencer`, so bank and query features are comparable.
    """
    backbone, backbone_sha256 = build_backbone()
    model = PatchCore(backbone, layers=layers).to(device, memory_format=torch.channels_last)
    parts = []
    for images, done in reader.batches(items):
        if images:
            batch = preprocess(images, input_size, INPUT_MEAN, INPUT_STD)
            batch = batch.to(device, memory_format=torch.channels_last)
            with inference_context(device):
                parts.append(model.patch_features(batch).float())
        report("features", done, len(items))
    reader.check()
    return torch.cat(parts), backbone_sha256


def fit_anomaly(
    good: Sequence[np.ndarray] | str | Path,
    out_dir: str | Path,
    *,
    val_good: Sequence[np.ndarray] | str | Path | None = None,
    holdout_fraction: float = 0.2,
    bank_size: int = 4000,
    input_size: int = 224,
    layers: Sequence[int] = DEFAULT_LAYERS,
    sigma: float = DEFAULT_SIGMA,
    score_top_fraction: float = 0.0,
    device: str = "auto",
    seed: int = 0,
    name: str = "anomaly",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> FitResult:
    """Fit a PatchCore model on good images and save it as a package.

    Unreadable image files fail the fit, after the whole set has been read, with
    all of them named: a damaged file in a folder of good parts usually means a
    copy went wrong, and silently fitting on fewer images would shift the
    threshold without anyone knowing.

    All patch features are held in memory until the coreset is chosen: about
    0.5 MB per image at 224 px, so about 1 GB for 2,000 training images.

    Args:
        good: RGB ``uint8`` images of good parts, or a folder of them (searched
            recursively; a ``.png`` beside a same-stem image is its mask and skipped).
        out_dir: Package directory to create.
        val_good: Separate good images for calibrating the threshold; when
            ``None``, ``holdout_fraction`` of ``good`` is held out (seeded split).
        holdout_fraction: Share of ``good`` held out when ``val_good`` is ``None``.
        bank_size: Most patch features kept in the memory bank (inference time
            grows linearly with it); all are kept when there are fewer.
        input_size: Side of the square images are resized to (a multiple of 8, >= 32).
        layers: Backbone stages the patch features come from (the first sets the
            map's resolution).
        sigma: Smoothing of the anomaly map, in input pixels (0 for none).
        score_top_fraction: Image score = mean of this share of the map's highest
            values; 0, the default, keeps the map's maximum (what packages have
            always meant by a score). ``patchcore.SCORE_TOP_FRACTION`` (0.01)
            separates goods from defects better on real parts; ``inspector fit``
            uses it. See :class:`~inspector.ml.patchcore.PatchCore`.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        seed: Seeds the split and the coreset, so a fit is repeatable.
        name: Model name, the first part of the version string.
        overwrite: Replace a package already in ``out_dir``.
        progress: Called as ``progress(stage, done, total)``, stage one of
            ``"features"``, ``"coreset"``, ``"calibrate"``, ``"save"``.

    Raises:
        SourceError: a folder is missing, holds too few images, or has unreadable ones.
        ValueError: a parameter is out of range, ``name`` is unusable, or
            ``out_dir`` holds a package and ``overwrite`` is false.
        ModelPackageError: the backbone weights are missing or damaged.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    if not 0.0 < holdout_fraction < 1.0 and val_good is None:
        msg = f"holdout_fraction must be between 0 and 1, got {holdout_fraction}"
        raise ValueError(msg)
    if bank_size < 1:
        msg = f"bank_size must be at least 1, got {bank_size}"
        raise ValueError(msg)
    layers = tuple(layers)
    check_input_size(input_size, layers)
    if not sigma >= 0:
        msg = f"sigma must be 0 or more, got {sigma}"
        raise ValueError(msg)
    if not 0.0 <= score_top_fraction < 1.0:
        msg = f"score_top_fraction must be in [0, 1), got {score_top_fraction}"
        raise ValueError(msg)
    check_name(name)
    out = Path(out_dir)
    if (out / METADATA_FILE).exists() and not overwrite:
        msg = f"{out} already holds a model package: choose another folder or overwrite it"
        raise ValueError(msg)

    items, source = _collect(good, "good")
    if val_good is None:
        if len(items) < MIN_TRAIN + 1:
            msg = (
                f"found {len(items)} good images in {source}; fitting needs at least "
                f"{MIN_TRAIN + 1} ({MIN_TRAIN} to learn from, 1 to calibrate the threshold)"
            )
            raise SourceError(msg)
        train, holdout = _split(items, holdout_fraction, seed)
        holdout_source = f"{len(holdout)} held out of {source} (seed {seed})"
    else:
        if len(items) < MIN_TRAIN:
            msg = f"found {len(items)} good images in {source}; fitting needs at least {MIN_TRAIN}"
            raise SourceError(msg)
        train = items
        holdout, holdout_source = _collect(val_good, "validation")
        if not holdout:
            msg = f"no validation images in {holdout_source}: add some, or leave val_good out"
            raise SourceError(msg)

    torch_device = select_device(device)
    reader = _Reader()
    features, backbone_sha256 = _extract_features(
        reader, train, input_size, layers, torch_device, report
    )
    chosen = greedy_coreset(
        features, bank_size, seed=seed, progress=lambda d, t: report("coreset", d, t)
    )
    n_patches, bank = features.shape[0], features[chosen].cpu()
    del features
    package = ModelPackage(
        name=name,
        memory_bank=bank,
        backbone_sha256=backbone_sha256,
        layers=layers,
        input_size=input_size,
        mean=INPUT_MEAN,
        std=INPUT_STD,
        sigma=float(sigma),
        threshold=math.nan,
        score_top_fraction=float(score_top_fraction),
    )

    inferencer = AnomalyInferencer(package, device=str(torch_device), max_batch=BATCH)
    holdout_reader = _Reader()
    scores: list[float] = []
    for images, done in holdout_reader.batches(holdout):
        scores += [output.score for output in inferencer.predict(images)]
        report("calibrate", done, len(holdout))
    holdout_reader.check()
    stats = ScoreStats.of(scores)
    threshold = calibrate_threshold(scores)

    report("save", 0, 1)
    package = replace(
        package,
        threshold=threshold,
        training={
            "count": len(train),
            "source": source,
            "holdout_count": len(holdout),
            "holdout_source": holdout_source,
            "image_sizes": dict(reader.sizes.most_common(10)),
            "patches": int(n_patches),
            "bank_size": int(bank.shape[0]),
            "seed": seed,
            "device": device_name(torch_device),
            "seconds": round(time.perf_counter() - started, 2),
        },
        metrics={
            "holdout_good_scores": asdict(stats),
            "threshold_rule": f"max + max({MARGIN_STD} * std, {MARGIN_MIN} * max) of held-out",
        },
    )
    saved = save_package(package, out, overwrite=overwrite)
    report("save", 1, 1)
    return FitResult(
        package_dir=out,
        version=saved.version,
        threshold=threshold,
        n_train=len(train),
        n_holdout=len(holdout),
        bank_size=int(bank.shape[0]),
        holdout=stats,
        seconds=time.perf_counter() - started,
    )
