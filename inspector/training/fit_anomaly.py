"""Fitting an anomaly model from images of good parts only.

Fitting a PatchCore model is not gradient training: the backbone is frozen,
good-patch features are collected, thinned to a memory bank by a greedy
coreset, and the default threshold is calibrated on held-out good images
scored through :class:`~inspector.ml.inferencer.AnomalyInferencer`, the very
path the line will use. With the image-level branch, the same held-out images
first set each branch's normalisation (centre and spread of good scores).
Runs in its own process when started from the UI.
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
from inspector.ml.efficientnet_lite import DEFAULT_VARIANT, INPUT_MEAN, INPUT_STD
from inspector.ml.inferencer import AnomalyInferencer, build_backbone
from inspector.ml.lighting import LightingRange, grey_levels
from inspector.ml.localisation_head import DEFAULT_HEAD_WEIGHT
from inspector.ml.package import METADATA_FILE, ModelPackage, check_name, save_package
from inspector.ml.patchcore import (
    DEFAULT_LAYERS,
    DEFAULT_SIGMA,
    PatchCore,
    check_input_size,
)
from inspector.ml.pixels import AS_CAPTURED, check_exposure
from inspector.ml.preprocess import check_image, preprocess
from inspector.ml.retrieval import (
    DEFAULT_GALLERY_FRACTION,
    check_density_weight,
    check_retrieval,
    gallery_rows,
    rows_per_image,
)
from inspector.training.calibration import (
    ScoreStats,
    branch_calibration,
    calibrate_threshold,
    threshold_rule,
)
from inspector.training.data_fingerprint import fingerprint_images
from inspector.training.evaluate import without_masks
from inspector.training.teach_head import at_input_size, teach_head

SYNTHETIC_EPOCHS = 20
"""Epochs of the localisation head ``inspector fit`` teaches (about 3 minutes for 600
images on 2 CPU cores; see README "Detection quality" for what it bought)."""
MIN_TRAIN = 4
"""Fewer good images than this cannot describe the normal variation of a part."""
BATCH = 8

Progress = Callable[[str, int, int], None]
ImageItem = np.ndarray | Path


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
        lighting: The brightness and contrast the line will accept (the good
            images', with a margin; see :mod:`inspector.ml.lighting`).
    """

    package_dir: Path
    version: str
    threshold: float
    n_train: int
    n_holdout: int
    bank_size: int
    holdout: ScoreStats
    seconds: float
    lighting: LightingRange | None = None


def _collect(source: Sequence[np.ndarray] | str | Path, role: str) -> tuple[list[ImageItem], str]:
    """List the images of ``source`` without decoding files yet (memory stays flat)."""
    if isinstance(source, str | Path):
        return list(without_masks(list_images(source))), f"folder {Path(source)}"
    items = [check_image(image, i) for i, image in enumerate(source)]
    return items, f"{len(items)} {role} images given as arrays"


def _root(source: Sequence[np.ndarray] | str | Path) -> Path | None:
    """The folder images were listed from, for their paths in the training fingerprint."""
    return Path(source) if isinstance(source, str | Path) else None


def split_holdout(
    items: list[ImageItem], fraction: float, seed: int
) -> tuple[list[ImageItem], list[ImageItem]]:
    """(training, held-out) items, as a fit without ``val_good`` splits them (seeded)."""
    order = np.random.default_rng(seed).permutation(len(items))
    n_holdout = max(1, round(fraction * len(items)))
    return [items[i] for i in order[n_holdout:]], [items[i] for i in order[:n_holdout]]


class _Reader:
    """Decodes images batch by batch, noting unreadable files, image sizes and lighting."""

    def __init__(self) -> None:
        self.unreadable: list[str] = []
        self.sizes: Counter[str] = Counter()
        self.grey_levels: list[tuple[float, float]] = []

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
                self.grey_levels.append(grey_levels(image))
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
    variant: str,
    global_stage: int | None,
    global_grid: int = 1,
    exposure: str = AS_CAPTURED,
) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """Patch features ``(P, D)`` and image descriptors ``(N, 2 C)`` (or ``None``) of
    all ``items`` on ``device``, and the backbone's SHA-256.

    Uses the same backbone, preprocessing and numeric context as
    :class:`AnomalyInferencer`, so bank and query features are comparable.
    """
    backbone, backbone_sha256 = build_backbone(variant=variant)
    model = PatchCore(backbone, layers=layers, global_stage=global_stage, global_grid=global_grid)
    model = model.to(device, memory_format=torch.channels_last)
    parts, descriptors = [], []
    for images, done in reader.batches(items):
        if images:
            batch = preprocess(images, input_size, INPUT_MEAN, INPUT_STD, exposure=exposure)
            batch = batch.to(device, memory_format=torch.channels_last)
            with inference_context(device):
                features, described = model.embed_all(batch)
            parts.append(features.float().permute(0, 2, 3, 1).reshape(-1, model.dim))
            if described is not None:
                descriptors.append(described.float().cpu())
        report("features", done, len(items))
    reader.check()
    return torch.cat(parts), torch.cat(descriptors) if descriptors else None, backbone_sha256


def _decoded(items: Sequence[ImageItem], size: int) -> list[np.ndarray]:
    """All ``items`` decoded and resized to ``size`` square batch by batch, as the line's
    preprocessing resizes them (so memory is that of the small images, whatever the camera).

    Raises:
        SourceError: an image cannot be read any more (it was read once already).
    """
    reader = _Reader()
    images = [small for batch, _ in reader.batches(items) for small in at_input_size(batch, size)]
    reader.check()
    return images


def _gallery(
    features: torch.Tensor, images: int, per_image: int, seed: int, report: Progress
) -> torch.Tensor:
    """A retrieval gallery: ``per_image`` covering rows of each image's patches, in image order."""
    report("coreset", 0, images)
    rows = gallery_rows(features.view(images, -1, features.shape[1]), per_image, seed=seed)
    report("coreset", images, images)
    return rows.cpu()


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
    backbone: str = DEFAULT_VARIANT,
    global_stage: int | None = None,
    global_grid: int = 1,
    target_false_reject: float | None = None,
    retrieval_k: int = 0,
    gallery_fraction: float = DEFAULT_GALLERY_FRACTION,
    density_weight: float = 0.0,
    exposure: str = AS_CAPTURED,
    synthetic_epochs: int = 0,
    head_weight: float = DEFAULT_HEAD_WEIGHT,
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
        backbone: EfficientNet-Lite member: ``"lite0"`` (fastest), ``"lite1"``, ``"lite2"``.
        global_stage: Backbone stage of the image-level branch (``patchcore.
            DEFAULT_GLOBAL_STAGE``, which ``inspector fit`` uses); ``None`` for a
            patch-only model. Needs at least 2 held-out images.
        target_false_reject: Share of good parts the default threshold may reject
            (see :func:`calibrate_threshold`); ``None`` for the maximum rule.
        global_grid: Cells per side of the image-level descriptor
            (``patchcore.DEFAULT_GLOBAL_GRID``, which ``inspector fit`` uses;
            see :mod:`inspector.ml.image_descriptor`); 1 pools the whole image.
        retrieval_k: Compare each part's patches with its ``retrieval_k`` nearest
            good images only (``retrieval.DEFAULT_RETRIEVAL_K``, which ``inspector
            fit`` uses); needs ``global_stage``. The bank is then a gallery of
            ``gallery_fraction`` of each good image's patches (training and
            held-out images) instead of a coreset of all, and ``bank_size`` is unused.
        gallery_fraction: Share of each image's patches a retrieval gallery keeps.
        density_weight: With retrieval, the share of the matched gallery row's
            spacing taken off each patch distance in the maps shown (0: off;
            ``retrieval.DEFAULT_DENSITY_WEIGHT``, which ``inspector fit`` uses; see
            :func:`~inspector.ml.retrieval.row_scales`).
        exposure: ``"standardised"`` (:data:`~inspector.ml.pixels.STANDARDISED`, which
            ``inspector fit`` uses) standardises each image's grey levels before the
            network sees it, so lighting differences are not taken for defects; the
            default keeps the camera's grey levels (see
            :func:`~inspector.ml.pixels.standardise_exposure`).
        synthetic_epochs: Epochs of teaching a localisation head on synthetic
            defects painted on the training images (:mod:`inspector.training.teach_head`;
            ``inspector fit`` uses :data:`SYNTHETIC_EPOCHS`); 0: no head. The head
            changes located maps only, never scores or verdicts.
        head_weight: The head's share of the localisation map (see
            :func:`~inspector.training.teach_head.teach_head`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        seed: Seeds the split, the coreset and the head, so a fit is repeatable.
        name: Model name, the first part of the version string.
        overwrite: Replace a package already in ``out_dir``.
        progress: Called as ``progress(stage, done, total)``, stage one of
            ``"features"``, ``"coreset"``, ``"calibrate"``, ``"synthetic"``, ``"save"``.

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
    if synthetic_epochs < 0 or not (math.isfinite(head_weight) and head_weight > 0):
        msg = (
            f"synthetic_epochs must be 0 or more and head_weight positive, got "
            f"{synthetic_epochs} and {head_weight}"
        )
        raise ValueError(msg)
    check_retrieval(retrieval_k, global_stage)
    check_density_weight(density_weight, retrieval_k)
    check_exposure(exposure)
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
        train, holdout = split_holdout(items, holdout_fraction, seed)
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

    # Taken before training reads the images: the fingerprint names what it read.
    fingerprint = fingerprint_images(
        {
            "train": (_root(good), train),
            "holdout": (_root(good if val_good is None else val_good), holdout),
        }
    )
    torch_device = select_device(device)
    reader = _Reader()
    if global_stage is not None and len(holdout) < 2:
        msg = "the image-level branch needs at least 2 held-out good images: add images"
        raise SourceError(msg)

    def features_of(
        reader: _Reader, items: list[ImageItem]
    ) -> tuple[torch.Tensor, torch.Tensor | None, str]:
        return _extract_features(
            reader,
            items,
            input_size,
            layers,
            torch_device,
            report,
            backbone,
            global_stage,
            global_grid,
            exposure,
        )

    features, descriptors, backbone_sha256 = features_of(reader, train)
    n_patches = features.shape[0]
    if retrieval_k:
        # Held-out images join both banks at once, image g owning gallery rows g * R on;
        # calibration then scores each against all the others, as a new part will be.
        per_image = rows_per_image(n_patches // len(descriptors), gallery_fraction)
        held_features, held_descriptors, _ = features_of(_Reader(), holdout)
        n_fit = len(descriptors)
        bank = torch.cat(
            [
                _gallery(features, n_fit, per_image, seed, report),
                _gallery(held_features, len(held_descriptors), per_image, seed, report),
            ]
        )
        descriptors = torch.cat([descriptors, held_descriptors])
        del held_features
    else:
        chosen = greedy_coreset(
            features, bank_size, seed=seed, progress=lambda d, t: report("coreset", d, t)
        )
        bank = features[chosen].cpu()
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
        backbone_variant=backbone,
        global_stage=global_stage,
        global_bank=descriptors,
        retrieval_k=retrieval_k,
        global_grid=global_grid,
        density_weight=float(density_weight),
        exposure=exposure,
    )

    inferencer = AnomalyInferencer(package, device=str(torch_device), max_batch=BATCH)
    holdout_reader = _Reader()
    scores: list[float] = []
    branches: list[tuple[float, float | None, torch.Tensor | None]] = []
    for images, done in holdout_reader.batches(holdout):
        if global_stage is None:
            scores += [output.score for output in inferencer.predict(images)]
        elif retrieval_k:
            itself = range(n_fit + done - len(images), n_fit + done)
            branches += inferencer.branch_scores(images, exclude=list(itself))
        else:
            branches += inferencer.branch_scores(images)
        report("calibrate", done, len(holdout))
    holdout_reader.check()
    if global_stage is not None:
        # The image score is the larger normalised branch score: computed here from the
        # raw branch scores, exactly as PatchCore.forward will compute it from now on.
        loo = inferencer.model.global_leave_one_out().cpu().tolist()
        if retrieval_k:
            loo = loo[:n_fit]  # the held-out images are in `branches` already
        raw = [(p, g) for p, g, _ in branches if g is not None]
        norm, scores, calibration = branch_calibration(raw, loo)
        # Held-out images are good parts the image-level branch may as well know: the
        # nearest good *image* matters there (one more look of a tile's texture), and its
        # normalisation already rests on the leave-one-out distances, not on them alone.
        package = replace(package, normalisation=norm)
        if not retrieval_k:
            held_out = [d for _, _, d in branches if d is not None]
            global_bank = torch.cat([package.global_bank, torch.stack(held_out)])
            package = replace(package, global_bank=global_bank)
    else:
        calibration = scores
    stats = ScoreStats.of(scores)
    threshold = calibrate_threshold(calibration, target_false_reject)
    head_summary: dict[str, object] = {}
    if synthetic_epochs:
        exclude = list(range(n_fit, n_fit + len(holdout))) if retrieval_k else None
        taught = teach_head(
            AnomalyInferencer(package, device=str(torch_device), max_batch=BATCH),
            _decoded(train, input_size),
            _decoded(holdout, input_size),
            epochs=synthetic_epochs,
            holdout_exclude=exclude,
            weight=head_weight,
            seed=seed,
            progress=report,
        )
        package = replace(package, localisation_head=taught.state)
        head_summary = {"localisation_head": taught.summary}

    report("save", 0, 1)
    package = replace(
        package,
        threshold=threshold,
        lighting=LightingRange.taught(reader.grey_levels + holdout_reader.grey_levels),
        training={
            "count": len(train),
            "source": source,
            "holdout_count": len(holdout),
            "holdout_source": holdout_source,
            "fingerprint": fingerprint,
            "image_sizes": dict(reader.sizes.most_common(10)),
            "patches": int(n_patches),
            "bank_size": int(bank.shape[0]),
            "seed": seed,
            "device": device_name(torch_device),
            "seconds": round(time.perf_counter() - started, 2),
            **head_summary,
        },
        metrics={
            "holdout_good_scores": asdict(stats),
            "threshold_rule": threshold_rule(len(calibration), target_false_reject)
            + (" (held-out and leave-one-out training images)" if global_stage else ""),
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
        lighting=saved.lighting,
    )
