"""Labelled images for classifier training: listing, splitting, decoding, batching.

The layout is the one evaluation reads (``<class>/<stem>.<ext>``, with an
optional mask, which classification ignores), told apart from masks by the
same rule (:func:`inspector.training.dataset_layout.split_masks`), except
that no class is required: ``good`` is a class like the others, and a set
of defect classes alone is fine too.

Images are decoded once and kept in memory already resized to the model's
square input, exactly as :func:`inspector.ml.preprocess.preprocess` resizes
them (``cv2.INTER_AREA``), so augmentation works at the input size and a
training batch is ``preprocess`` of the augmented images: the model sees
pixels prepared as on the line.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch

from inspector.acquisition.image_files import IMAGE_EXTENSIONS, read_image
from inspector.core.errors import SourceError
from inspector.ml.preprocess import preprocess
from inspector.training.augment import augment
from inspector.training.dataset_layout import split_masks
from inspector.training.evaluate import LabelledImage

Progress = Callable[[int, int], None]
SampleKey = tuple[int, int]
"""``(image index, augmentation seed)``: what a loader asks the dataset for."""
IMBALANCE_RATIO = 1.5
AUTO_SIZE_RANGE = (224, 320)
"""Least and most input side :func:`auto_image_size` chooses."""
AUTO_SIZE_SAMPLE = 64
"""The ``auto`` sampler balances classes when the largest has this many times the smallest."""


def list_class_images(data_dir: str | Path) -> list[LabelledImage]:
    """The images of a ``<class>/<stem>.<ext>`` folder, in a stable order.

    Raises:
        SourceError: the folder is missing; has images outside class folders,
            an empty class folder, or fewer than two classes. Nothing is
            skipped silently: each names what to fix.
    """
    root = Path(data_dir)
    if not root.is_dir():
        msg = f"training folder {root} does not exist or is not a folder: check the path"
        raise SourceError(msg)
    loose = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if loose:
        msg = (
            f"{root} has images outside class folders ({', '.join(sorted(loose)[:5])}): "
            "move each into a <class>/ sub-folder"
        )
        raise SourceError(msg)
    found: list[LabelledImage] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        images, masks = split_masks(files)
        if not images:
            msg = f"class folder {folder} has no images: add some or remove the folder"
            raise SourceError(msg)
        found.extend(LabelledImage(file, folder.name, masks.get(file)) for file in images)
    classes = sorted({item.defect_class for item in found})
    if len(classes) < 2:
        msg = (
            f"{root} has {len(classes)} class folder(s) ({', '.join(classes) or 'none'}): "
            "a classifier needs at least two, laid out as <class>/<stem>.jpg"
        )
        raise SourceError(msg)
    return found


def stratified_split(
    items: Sequence[LabelledImage], fraction: float, seed: int
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """Hold out ``fraction`` of every class (at least one image each), seeded.

    Raises:
        ValueError: ``fraction`` is not in (0, 1).
        SourceError: a class has a single image, so it cannot be both learned and checked.
    """
    if not 0.0 < fraction < 1.0:
        msg = f"validation fraction must be between 0 and 1, got {fraction}"
        raise ValueError(msg)
    by_class: dict[str, list[LabelledImage]] = {}
    for item in items:
        by_class.setdefault(item.defect_class, []).append(item)
    rng = np.random.default_rng(seed)
    train: list[LabelledImage] = []
    val: list[LabelledImage] = []
    for name in sorted(by_class):
        members = by_class[name]
        if len(members) < 2:
            msg = (
                f"class {name!r} has 1 image: a validation split needs at least 2 per class. "
                "Add images, or give separate validation images with --val"
            )
            raise SourceError(msg)
        n_val = min(len(members) - 1, max(1, round(fraction * len(members))))
        order = rng.permutation(len(members))
        val += [members[i] for i in sorted(order[:n_val])]
        train += [members[i] for i in sorted(order[n_val:])]
    return train, val


def auto_image_size(items: Sequence[LabelledImage], sample: int = AUTO_SIZE_SAMPLE) -> int:
    """The model input side for these images: their median side, rounded up to 32, in 224..320.

    The side is the square root of an image's area, measured on up to
    ``sample`` images spread over the set. Rounding *up* never shrinks a
    typical image (a small defect keeps its pixels); 320 caps the cost on a
    CPU; 224 (the backbone's ImageNet size) is the least, since enlarging
    small images further only invents pixels.

    Raises:
        SourceError: none of the sampled images can be read.
    """
    step = max(1, len(items) // sample)
    sides = []
    for item in items[::step][:sample]:
        image = cv2.imread(str(item.path), cv2.IMREAD_UNCHANGED)
        if image is not None:
            sides.append(math.sqrt(image.shape[0] * image.shape[1]))
    if not sides:
        msg = f"none of {len(items)} training images could be read to choose the input size"
        raise SourceError(msg)
    low, high = AUTO_SIZE_RANGE
    return int(min(high, max(low, 32 * math.ceil(float(np.median(sides)) / 32))))


def load_resized(
    items: Sequence[LabelledImage],
    size: int,
    progress: Progress | None = None,
) -> np.ndarray:
    """Decode every image and resize it to ``size`` square as ``preprocess`` does.

    Args:
        items: The images.
        size: Side of the square.
        progress: Called as ``progress(done, total)`` after each image; it
            may raise to stop reading (a cancelled training does).

    Returns:
        ``uint8`` array ``(N, size, size, 3)``.

    Raises:
        SourceError: some images cannot be decoded; all of them are named,
            after the whole set was read.
    """
    out = np.empty((len(items), size, size, 3), np.uint8)
    unreadable = []
    for i, item in enumerate(items):
        try:
            image = read_image(item.path)
        except SourceError as exc:
            unreadable.append(str(exc))
            continue
        same = image.shape[:2] == (size, size)
        out[i] = image if same else cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        if progress is not None:
            progress(i + 1, len(items))
    if unreadable:
        shown = "; ".join(unreadable[:10])
        more = f" (and {len(unreadable) - 10} more)" if len(unreadable) > 10 else ""
        msg = f"{len(unreadable)} image(s) cannot be read: {shown}{more}. Fix or remove them"
        raise SourceError(msg)
    return out


def dataset_fingerprint(
    root: Path, train: Sequence[LabelledImage], val: Sequence[LabelledImage]
) -> str:
    """SHA-256 over every image's split, class, relative path and content.

    Two packages with the same fingerprint learned from exactly the same
    images, labelled and split the same way.
    """
    digest = hashlib.sha256()
    for split, items in (("train", train), ("val", val)):
        for item in sorted(items, key=lambda x: str(x.path)):
            path = item.path.relative_to(root) if item.path.is_relative_to(root) else item.path
            content = hashlib.sha256(item.path.read_bytes()).hexdigest()
            digest.update(f"{split}\t{item.defect_class}\t{path.as_posix()}\t{content}\n".encode())
    return digest.hexdigest()


def should_balance(counts: np.ndarray, sampler: str) -> bool:
    """Whether the ``sampler`` choice (``auto``/``balanced``/``shuffle``) balances classes."""
    if sampler == "auto":
        present = counts[counts > 0]
        return bool(present.max() >= IMBALANCE_RATIO * present.min())
    return sampler == "balanced"


def epoch_batches(
    labels: np.ndarray, balanced: bool, batch_size: int, seed: int, epoch: int
) -> list[list[SampleKey]]:
    """The batches of one epoch: ``len(labels)`` draws, each with its own augmentation seed.

    Balanced draws pick a class uniformly, then an image of it (with
    replacement), so a rare defect class is seen as often as ``good``;
    otherwise every image once, shuffled. Batches are of nearly equal size
    (never a lone image, which batch norm cannot normalise).
    """
    rng = np.random.default_rng([seed, epoch])
    n = len(labels)
    if balanced:
        counts = np.bincount(labels)
        weights = 1.0 / counts[labels]
        indices = rng.choice(n, size=n, replace=True, p=weights / weights.sum())
    else:
        indices = rng.permutation(n)
    seeds = rng.integers(0, 2**31 - 1, size=n)
    keys = list(zip(indices.tolist(), seeds.tolist(), strict=True))
    n_batches = max(1, -(-n // batch_size))
    return [[keys[i] for i in part] for part in np.array_split(np.arange(n), n_batches)]


class AugmentedImages(torch.utils.data.Dataset):
    """Resized images served augmented by a per-sample seed (see :func:`augment`).

    Args:
        images: ``uint8`` ``(N, S, S, 3)`` from :func:`load_resized`.
        labels: Class index of each image.
        pipeline: Augmentation, or ``None`` to serve the images unchanged.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, pipeline: A.Compose | None) -> None:
        self.images = images
        self.labels = labels
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: SampleKey) -> tuple[np.ndarray, int]:
        index, seed = key
        image = self.images[index]
        if self.pipeline is not None:
            image, _ = augment(self.pipeline, image, seed)
        return image, int(self.labels[index])


def _seed_worker(worker_id: int) -> None:
    """Seed a loader worker's global generators from torch's per-worker seed.

    Augmentation is seeded per sample and does not need it, but a custom
    transform that draws from numpy's or Python's global generator stays
    repeatable too.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


@dataclass(frozen=True)
class _Collate:
    """Stacks samples into a batch through :func:`preprocess` (picklable for workers)."""

    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __call__(self, samples: list[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        images = [image for image, _ in samples]
        labels = torch.tensor([label for _, label in samples], dtype=torch.long)
        return preprocess(images, self.size, self.mean, self.std), labels


def batch_loader(
    dataset: AugmentedImages,
    batches: list[list[SampleKey]],
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    workers: int,
    seed: int,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Iterate ``(preprocessed images, labels)`` batches, optionally on worker processes."""
    return iter(
        torch.utils.data.DataLoader(
            dataset,
            batch_sampler=batches,
            collate_fn=_Collate(size, tuple(mean), tuple(std)),
            num_workers=workers,
            worker_init_fn=_seed_worker if workers else None,
            generator=torch.Generator().manual_seed(seed),
        )
    )


def describe_counts(labels: np.ndarray, classes: Sequence[str]) -> dict[str, int]:
    """``{class: images}`` for the metadata."""
    counts = Counter(labels.tolist())
    return {name: int(counts.get(i, 0)) for i, name in enumerate(classes)}
