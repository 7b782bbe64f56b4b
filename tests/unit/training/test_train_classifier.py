"""Classifier training: data listing and splits, augmentation, metrics, and short real runs.

Training runs on a worker thread here, as the CLI runs it: on this machine
torch's convolutions are several times slower on the main thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import pytest
import torch

from inspector.core.errors import SourceError
from inspector.ml.classifier import BACKBONE_GROUPS, DefectClassifier
from inspector.ml.classifier_package import load_classifier_package
from inspector.ml.preprocess import preprocess
from inspector.training import classifier_optim as optim
from inspector.training.augment import (
    TransformSpec,
    augment,
    build_augmentation,
    default_augmentation,
    load_augmentation_file,
)
from inspector.training.classifier_config import TrainConfig
from inspector.training.classifier_data import (
    epoch_batches,
    list_class_images,
    load_resized,
    stratified_split,
)
from inspector.training.classifier_metrics import classification_metrics
from inspector.training.classifier_trainer import FINE_TUNE, HEAD, ClassifierTrainer
from inspector.training.train_classifier import (
    CURVES_FILE,
    TrainingCancelled,
    train_classifier,
)
from tests.unit.training.synthetic_classes import CLASSES, part_image, write_dataset

T = TypeVar("T")
TINY = TrainConfig(
    strategy="gradual",
    image_size=64,
    head_epochs=10,
    epochs=2,
    batch_size=8,
    views=2,
    device="cpu",
    patience=5,
)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: on a busy 2-core machine two threads mostly wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def in_thread(work: Callable[[], T]) -> T:
    """Run ``work`` on a worker thread and return its result (or raise its error)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data") / "parts", per_class=10)


def test_listing_reads_classes_and_leaves_masks_out(dataset: Path) -> None:
    items = list_class_images(dataset)
    assert sorted({i.defect_class for i in items}) == list(CLASSES)
    assert len(items) == 30
    assert all(i.path.suffix == ".jpg" for i in items)
    assert all((i.mask_path is None) == (i.defect_class == "good") for i in items)


def test_listing_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        list_class_images(tmp_path / "missing")
    write_dataset(tmp_path / "a", per_class=2)
    (tmp_path / "a" / "empty").mkdir()
    with pytest.raises(SourceError, match="empty has no images"):
        list_class_images(tmp_path / "a")
    (tmp_path / "a" / "empty").rmdir()
    cv2.imwrite(str(tmp_path / "a" / "loose.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SourceError, match="outside class folders.*loose.jpg"):
        list_class_images(tmp_path / "a")
    write_dataset(tmp_path / "b", per_class=2)
    for kind in CLASSES[1:]:
        for file in (tmp_path / "b" / kind).iterdir():
            file.unlink()
        (tmp_path / "b" / kind).rmdir()
    with pytest.raises(SourceError, match="at least two"):
        list_class_images(tmp_path / "b")


def test_stratified_split_holds_out_every_class(dataset: Path) -> None:
    items = list_class_images(dataset)
    train, val = stratified_split(items, 0.2, seed=3)
    assert sorted(i.defect_class for i in val) == sorted(CLASSES * 2)
    assert not {i.path for i in train} & {i.path for i in val}
    assert stratified_split(items, 0.2, seed=3) == (train, val)
    assert stratified_split(items, 0.2, seed=4) != (train, val)
    with pytest.raises(SourceError, match="'spot' has 1 image.*--val"):
        stratified_split([i for i in items if i.defect_class != "spot"] + items[-1:], 0.2, 0)


def test_images_are_resized_exactly_as_the_inference_path_does(dataset: Path) -> None:
    items = list_class_images(dataset)[:3]
    cached = load_resized(items, 48)
    originals = [cv2.cvtColor(cv2.imread(str(i.path)), cv2.COLOR_BGR2RGB) for i in items]
    assert originals[0].shape[:2] != (48, 48)
    same = (0.5, 0.5, 0.5)
    torch.testing.assert_close(
        preprocess(list(cached), 48, same, same), preprocess(originals, 48, same, same)
    )


def test_unreadable_images_are_all_named(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "d", per_class=2)
    (root / "good" / "broken.jpg").write_bytes(b"not a jpeg")
    (root / "spot" / "empty.jpg").write_bytes(b"")
    with pytest.raises(SourceError, match=r"2 image\(s\) cannot be read.*(broken|empty).*"):
        load_resized(list_class_images(root), 32)


def test_balanced_batches_draw_rare_classes_as_often_and_are_repeatable() -> None:
    labels = np.array([0] * 90 + [1] * 10)
    batches = epoch_batches(labels, balanced=True, batch_size=16, seed=1, epoch=1)
    drawn = np.array([labels[i] for batch in batches for i, _ in batch])
    assert len(drawn) == 100 and min(len(b) for b in batches) >= 2
    assert 35 <= np.sum(drawn == 1) <= 65
    assert epoch_batches(labels, True, 16, 1, 1) == batches
    assert epoch_batches(labels, True, 16, 1, 2) != batches
    shuffled = epoch_batches(labels, balanced=False, batch_size=16, seed=1, epoch=1)
    assert sorted(i for batch in shuffled for i, _ in batch) == list(range(100))


def _marks(seed: int, size: int = 96) -> np.ndarray:
    """A dark image with bright, thick, asymmetric marks (so any flip or turn shows)."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 30, np.uint8)
    cv2.rectangle(image, (8, 10), (40, 22), (230, 230, 230), -1)
    cv2.circle(image, (int(rng.integers(50, 80)), int(rng.integers(50, 80))), 10, (220,) * 3, -1)
    cv2.line(image, (20, 60), (45, 88), (240, 240, 240), 6)
    return image


def test_augmentation_moves_the_mask_with_the_image() -> None:
    pipeline = build_augmentation(default_augmentation(rotate=True), 96)
    moved = 0
    for seed in range(12):
        image = _marks(seed)
        mask = np.where(image[..., 0] > 127, 255, 0).astype(np.uint8)  # the image's own marks
        out_image, out_mask = augment(pipeline, image, seed, mask)
        assert out_image.shape == image.shape and out_image.dtype == np.uint8
        marks = out_image[..., 0] > 127
        drawn = out_mask > 127
        iou = np.sum(marks & drawn) / np.sum(marks | drawn)
        assert iou > 0.85, f"seed {seed}: mask and image disagree (IoU {iou:.2f})"
        moved += not np.array_equal(drawn, mask > 127)
    assert moved >= 8  # the pipeline really moved things, so alignment was tested


def test_augmentation_is_repeatable_per_seed() -> None:
    pipeline = build_augmentation(default_augmentation(), 96)
    image = _marks(0)
    first, _ = augment(pipeline, image, 7)
    assert np.array_equal(augment(pipeline, image, 7)[0], first)
    assert any(not np.array_equal(augment(pipeline, image, s)[0], first) for s in range(8, 12))


def test_augmentation_file_is_read_and_checked(tmp_path: Path) -> None:
    toml = tmp_path / "aug.toml"
    toml.write_text('[[transforms]]\nname = "HorizontalFlip"\np = 1.0\n')
    specs = load_augmentation_file(toml)
    assert specs == [TransformSpec("HorizontalFlip", {"p": 1.0})]
    flipped, _ = augment(build_augmentation(specs, 96), _marks(0), 0)
    assert np.array_equal(flipped, _marks(0)[:, ::-1])
    json_file = tmp_path / "aug.json"
    json_file.write_text('{"transforms": [{"name": "HorizontalFlp"}]}')
    with pytest.raises(
        ValueError, match="unknown augmentation transform 'HorizontalFlp'.*HorizontalFlip"
    ):
        build_augmentation(load_augmentation_file(json_file), 96)
    with pytest.raises(ValueError, match="no argument.*strength.*it takes"):
        build_augmentation([TransformSpec("GaussNoise", {"strength": 2})], 96)
    with pytest.raises(ValueError, match="refuses arguments"):
        build_augmentation([TransformSpec("HorizontalFlip", {"p": 3})], 96)
    with pytest.raises(ValueError, match="model input is fixed at 96 px"):
        build_augmentation([TransformSpec("RandomCrop", {"height": 32, "width": 32})], 96)
    json_file.write_text('{"steps": []}')
    with pytest.raises(ValueError, match="needs a 'transforms' list"):
        load_augmentation_file(json_file)


def test_metrics_count_what_a_line_needs() -> None:
    classes = ("crack", "good", "spot")
    true = [1, 1, 1, 1, 0, 0, 2, 2]
    said = [1, 1, 1, 0, 0, 2, 2, 1]
    m = classification_metrics(true, said, classes)
    assert m.confusion == ((1, 0, 1), (1, 3, 0), (0, 1, 1))
    assert m.accuracy == pytest.approx(5 / 8)
    assert m.good_vs_defect_accuracy == pytest.approx(6 / 8)  # 1 false reject, 1 escape
    assert m.defect_class_accuracy == pytest.approx(2 / 4)
    assert m.per_class["good"].precision == pytest.approx(3 / 4)
    assert m.per_class["good"].recall == pytest.approx(3 / 4)
    assert m.per_class["crack"].f1 == pytest.approx(0.5)
    assert m.to_dict()["confusion"][1] == [1, 3, 0]
    only_defects = classification_metrics([0, 1], [0, 0], ("crack", "spot"))
    assert only_defects.good_vs_defect_accuracy is None
    assert only_defects.per_class["spot"].precision is None


def test_a_short_run_lowers_the_validation_loss_and_saves_a_package(
    dataset: Path, tmp_path: Path
) -> None:
    seen: list[tuple[int, dict]] = []
    config = TINY
    result = in_thread(
        lambda: train_classifier(
            dataset,
            tmp_path / "model",
            config,
            progress=lambda e, s, t, m: seen.append((e, dict(m))),
        )
    )
    curves = [m for _, m in seen if m["stage"] == "epoch"]
    assert [m["epoch"] for m in curves] == list(range(1, 13))
    assert [m["phase"] for m in curves] == ["head"] * 10 + ["fine-tune"] * 2
    assert curves[-1]["val_loss"] < curves[0]["val_loss"]
    assert {m["stage"] for _, m in seen} >= {"read", "cache", "train", "epoch", "evaluate"}
    package = load_classifier_package(tmp_path / "model")
    assert package.classes == CLASSES and result.classes == CLASSES
    assert package.version == result.version
    assert package.metrics["count"] == 6 and package.metrics["accuracy"] == result.metrics.accuracy
    assert len(package.curves) == 12 and package.training["best_epoch"] == result.best_epoch
    assert package.dataset["train_per_class"] == {c: 8 for c in CLASSES}
    assert len(package.dataset["fingerprint"]) == 64
    assert (tmp_path / "model" / CURVES_FILE).read_bytes().startswith(b"\x89PNG")


def test_same_seed_gives_the_same_weights(dataset: Path, tmp_path: Path) -> None:
    config = TrainConfig(
        **{
            **TINY.__dict__,
            "strategy": "full",
            "views": 0,
            "head_epochs": 1,
            "epochs": 1,
            "image_size": 32,
        }
    )

    def weights(out: str, seed: int) -> dict[str, torch.Tensor]:
        run = TrainConfig(**{**config.__dict__, "seed": seed})
        in_thread(lambda: train_classifier(dataset, tmp_path / out, run))
        return dict(load_classifier_package(tmp_path / out).state_dict)

    first, again, other = weights("a", 0), weights("b", 0), weights("c", 1)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_cancel_leaves_nothing_behind(dataset: Path, tmp_path: Path) -> None:
    cancel = threading.Event()

    def progress(epoch: int, step: int, total: int, metrics: Any) -> None:
        if metrics["stage"] == "train":
            cancel.set()  # checked before the next step

    with pytest.raises(TrainingCancelled, match="nothing was saved"):
        in_thread(
            lambda: train_classifier(
                dataset, tmp_path / "model", TINY, progress=progress, cancel=cancel
            )
        )
    assert list(tmp_path.iterdir()) == []


def test_bad_requests_are_refused_before_training(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="strategy 'thaw' is not one of frozen, gradual, full"):
        train_classifier(dataset, tmp_path / "m", TrainConfig(strategy="thaw"))
    with pytest.raises(ValueError, match="unfreeze_groups is 9, expected 1..6"):
        train_classifier(dataset, tmp_path / "m", TrainConfig(unfreeze_groups=9))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="holds other files"):
        train_classifier(dataset, taken, TINY)
    val = write_dataset(tmp_path / "val", per_class=1)
    (val / "scratch").rename(val / "dent")
    with pytest.raises(SourceError, match=r"classes \['dent'\] that .* lacks"):
        train_classifier(dataset, tmp_path / "m", TINY, val_dir=val)


def test_a_synthetic_part_has_its_defect_where_its_mask_says() -> None:
    image, mask = part_image("spot", 3)
    assert image[mask > 0].mean() < 60 < image[mask == 0].mean()


def test_a_short_run_on_real_tiles_lowers_the_validation_loss(
    magnetic_tile: Path, tmp_path: Path
) -> None:
    data = tmp_path / "tiles"
    for kind in ("good", "fray"):
        (data / kind).mkdir(parents=True)
        for image in sorted((magnetic_tile / "train" / kind).glob("*.jpg"))[:12]:
            (data / kind / image.name).write_bytes(image.read_bytes())
    config = TrainConfig(
        **{**TINY.__dict__, "strategy": "frozen", "head_epochs": 12, "image_size": 96}
    )
    result = in_thread(lambda: train_classifier(data, tmp_path / "model", config))
    curves = load_classifier_package(tmp_path / "model").curves
    assert curves[-1]["val_loss"] < 0.5 * curves[0]["val_loss"]
    assert result.metrics.count == 4 and result.metrics.defect_class_accuracy is not None


def test_gradual_unfreezing_gives_earlier_groups_smaller_rates() -> None:
    model = DefectClassifier(3)
    optimizer = optim.build_optimizer(model, "adamw", 1e-3, 0.01, max_groups=3)
    assert sorted({g["lr"] for g in optimizer.param_groups}) == [2.5e-4, 5e-4, 1e-3]
    decays = {g["weight_decay"] for g in optimizer.param_groups if g["params"][0].ndim > 1}
    assert decays == {0.01}  # conv and linear weights only; biases and batch norm none
    schedule = [optim.trainable_groups("gradual", 3, e, head_trained=True) for e in (1, 2, 3, 4)]
    assert schedule == [1, 2, 3, 3]
    assert optim.trainable_groups("gradual", 3, 1, head_trained=False) == 0
    assert optim.trainable_groups("full", 3, 1, head_trained=True) == BACKBONE_GROUPS
    optim.set_trainable(model, 1)
    top, below = model.group_modules(BACKBONE_GROUPS - 1), model.group_modules(0)
    assert all(p.requires_grad for m in top for p in m.parameters())
    assert not any(p.requires_grad for m in below for p in m.parameters())
    assert model.dropout.training
    assert not any(m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_focal_loss_is_cross_entropy_scaled_down_for_easy_images() -> None:
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, -1.0]])
    target = torch.tensor([0, 1, 2])
    weight = torch.tensor([1.0, 2.0, 0.5])
    ce = torch.nn.functional.cross_entropy(logits, target, weight=weight)
    torch.testing.assert_close(optim.FocalLoss(weight, gamma=0.0)(logits, target), ce)
    focal = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    focal *= (1 - torch.exp(-focal)) ** 2
    assert optim.FocalLoss()(logits, target) == pytest.approx(float(focal.mean()), rel=1e-5)
    assert optim.FocalLoss()(logits, target) < torch.nn.functional.cross_entropy(logits, target)


def test_cached_and_uncached_paths_give_the_same_logits(dataset: Path) -> None:
    items = list_class_images(dataset)
    train, val = stratified_split(items, 0.2, seed=0)
    labels = [np.array([CLASSES.index(i.defect_class) for i in part]) for part in (train, val)]
    trainer = ClassifierTrainer(
        TINY,
        load_resized(train, 64),
        labels[0],
        load_resized(val, 64),
        labels[1],
        CLASSES,
        None,
        torch.device("cpu"),
        lambda *_: None,
    )
    in_thread(trainer.build_cache)
    for epoch in (1, 2, 3):  # a trained head: no near-ties for float16 rounding to flip
        in_thread(lambda e=epoch: trainer.train_epoch(HEAD, e, e))
    pooled_loss, pooled = trainer.validate(HEAD)  # pooled features of the frozen backbone
    prefix_loss, prefix = trainer.validate(FINE_TUNE)  # cached front, groups above run
    trainer.val_cache, trainer.cache_at = None, 0
    image_loss, from_images = trainer.validate(FINE_TUNE)  # everything from the images
    assert pooled_loss == pytest.approx(prefix_loss, rel=1e-3)
    assert pooled_loss == pytest.approx(image_loss, rel=1e-3)
    assert np.array_equal(pooled, prefix) and np.array_equal(pooled, from_images)
