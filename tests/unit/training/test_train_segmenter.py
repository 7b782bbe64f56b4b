"""Segmenter training on a few real magnetic-tile images: it learns, and it is safe to run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from inspector.core.errors import SourceError
from inspector.ml.segmenter import DefectSegmenter
from inspector.ml.segmenter_package import load_segmenter_package
from inspector.training.augment import TransformSpec, build_augmentation
from inspector.training.segment_cache import compute_cache
from inspector.training.segment_config import SegmentConfig
from inspector.training.train_segmenter import train_segmenter
from inspector.training.training_run import TrainingCancelled

TINY = {"image_size": 64, "batch_size": 4, "device": "cpu"}


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread: on a busy 2-core machine two threads mostly wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _subset(source: Path, out: Path, per_class: int, classes: tuple[str, ...]) -> Path:
    for name in classes:
        (out / name).mkdir(parents=True)
        for image in sorted((source / name).glob("*.jpg"))[:per_class]:
            shutil.copy(image, out / name)
            if image.with_suffix(".png").exists():
                shutil.copy(image.with_suffix(".png"), out / name)
    return out


@pytest.fixture
def tiles(magnetic_tile: Path, tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "tiles"
    classes = ("blowhole", "good", "uneven")
    train = _subset(magnetic_tile / "train", root / "train", 6, classes)
    return train, _subset(magnetic_tile / "val", root / "val", 2, classes)


def test_short_training_lowers_validation_loss_and_saves_a_package(
    tiles: tuple[Path, Path], tmp_path: Path
) -> None:
    config = SegmentConfig(epochs=6, patience=6, **TINY)
    result = train_segmenter(tiles[0], tmp_path / "seg", config, val_dir=tiles[1])
    package = load_segmenter_package(tmp_path / "seg")
    assert package.training["best_val_loss"] < package.training["initial_val_loss"]
    # The kept epoch is the one of highest validation mIoU, the figure the package reports.
    kept = package.curves[result.best_epoch - 1]
    assert package.training["best_val_miou"] == kept["val_miou"]
    assert kept["val_miou"] == max(row["val_miou"] for row in package.curves)
    assert package.outputs == ("defect",) and package.task == "segment"
    assert result.metrics.defect_images == 4 and result.metrics.images == 6
    assert 0.0 <= result.metrics.miou <= 1.0 and result.metrics.pixel_auroc > 0.5
    assert package.metrics["definitions"]["miou"].startswith("mean over defective")
    assert len(package.dataset["fingerprint"]) == 64 and len(package.curves) == result.epochs_run
    assert (tmp_path / "seg" / "training_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_same_seed_same_weights_and_cancel_writes_nothing(
    tiles: tuple[Path, Path], tmp_path: Path
) -> None:
    config = SegmentConfig(epochs=1, views=1, **TINY)
    train_segmenter(tiles[0], tmp_path / "a", config, val_dir=tiles[1])
    train_segmenter(tiles[0], tmp_path / "b", config, val_dir=tiles[1])
    a, b = load_segmenter_package(tmp_path / "a"), load_segmenter_package(tmp_path / "b")
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    with pytest.raises(TrainingCancelled, match="nothing was saved"):
        train_segmenter(tiles[0], tmp_path / "c", config, val_dir=tiles[1], cancel=lambda: True)
    assert not (tmp_path / "c").exists()


def test_a_defective_image_without_mask_is_named(tiles: tuple[Path, Path], tmp_path: Path) -> None:
    data = shutil.copytree(tiles[0], tmp_path / "data")
    victim = sorted((data / "blowhole").glob("*.png"))[0]
    victim.unlink()
    with pytest.raises(SourceError, match=f"have no mask: {victim.stem}.jpg"):
        train_segmenter(data, tmp_path / "seg", SegmentConfig(**TINY))
    assert not (tmp_path / "seg").exists()


def test_cached_views_keep_each_mask_on_its_augmented_image() -> None:
    images = np.zeros((2, 64, 64, 3), np.uint8)
    masks = np.zeros((2, 64, 64), np.uint8)
    for i, (y, x) in enumerate([(5, 7), (30, 40)]):  # a bright blob off-centre, its mask there
        images[i, y : y + 16, x : x + 12] = 255
        masks[i, y : y + 16, x : x + 12] = 255
    flips = [TransformSpec("HorizontalFlip", {"p": 0.5}), TransformSpec("VerticalFlip", {"p": 0.5})]
    cache = compute_cache(
        DefectSegmenter(1),
        images,
        masks,
        np.array([4, 4]),
        pipeline=build_augmentation(flips, 64),
        seed=3,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        device=torch.device("cpu"),
        batch_size=4,
        step=lambda *_: None,
    )
    assert cache.owner.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert torch.equal(cache.masks[0], torch.from_numpy(masks[0]))  # view 0: the image itself
    seen = set()
    for row, owner in enumerate(cache.owner):
        mask = cache.masks[row].numpy()
        flipped = {
            (h, v)
            for h in (False, True)
            for v in (False, True)
            if np.array_equal(mask, masks[owner][:: -1 if v else 1, :: -1 if h else 1])
        }
        assert len(flipped) == 1, row  # the mask is the original one, flipped some way
        seen |= flipped
    assert len(seen) > 1  # and the views really differ
