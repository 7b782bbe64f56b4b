"""The defect classifier, its package on disk, and its inference path."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from inspector.core.errors import ModelPackageError
from inspector.ml.classifier import BACKBONE_GROUPS, DefectClassifier, pretrained_classifier
from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.ml.classifier_package import (
    METADATA_FILE,
    WEIGHTS_FILE,
    ClassifierPackage,
    load_classifier_package,
    save_classifier_package,
)
from inspector.ml.efficientnet_lite import EfficientNetLite0, load_imagenet_weights

CLASSES = ("crack", "good", "spot")


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: on a busy 2-core machine two threads mostly wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@cache
def _package(seed: int = 0) -> ClassifierPackage:
    torch.manual_seed(seed)
    model = DefectClassifier(len(CLASSES), dropout=0.3)
    return ClassifierPackage(
        name="tiles",
        classes=CLASSES,
        state_dict=model.state_dict(),
        backbone_sha256="ab" * 32,
        input_size=64,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        dropout=0.3,
        metrics={"accuracy": 0.9},
        training={"epochs_run": 3},
        dataset={"fingerprint": "cd" * 32},
        curves=({"epoch": 1, "val_loss": 0.5},),
    )


@pytest.fixture(scope="module")
def saved_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "pkg"
    save_classifier_package(_package(), folder, extra_files={"curves.png": b"png"})
    return folder


@pytest.fixture
def saved(saved_once: Path, tmp_path: Path) -> Path:
    """A fresh copy of one saved package, for a test to damage."""
    return Path(shutil.copytree(saved_once, tmp_path / "pkg"))


def _resign(folder: Path, name: str, data: bytes) -> None:
    """Replace a file and fix its hash in model.json, so only the loader's other checks object."""
    (folder / name).write_bytes(data)
    meta = json.loads((folder / METADATA_FILE).read_text())
    meta["files"][name] = hashlib.sha256(data).hexdigest()
    (folder / METADATA_FILE).write_text(json.dumps(meta))


def _images(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (50 + 7 * i, 70, 3), dtype=np.uint8) for i in range(count)]


def test_head_gives_one_raw_logit_per_class() -> None:
    model = DefectClassifier(5).eval()
    logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 5)
    assert not torch.allclose(logits.softmax(1).sum(1), logits.sum(1))  # raw, not probabilities
    assert "backbone.classifier.weight" not in model.state_dict()  # ImageNet's 1000 classes gone
    assert model.state_dict()["classifier.weight"].shape == (5, 1280)


def test_groups_run_in_parts_give_the_same_logits() -> None:
    model = DefectClassifier(3).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        front = model.run_groups(x, 0, 3)
        split = model.classify(model.run_groups(front, 3, BACKBONE_GROUPS))
        pooled = model.run_groups(x, 0, BACKBONE_GROUPS).mean(dim=(2, 3))
        torch.testing.assert_close(split, model(x))
        torch.testing.assert_close(model.classify(pooled), model(x))


def test_pretrained_classifier_starts_from_imagenet_weights() -> None:
    reference = EfficientNetLite0()
    sha = load_imagenet_weights(reference)
    model, model_sha = pretrained_classifier(4)
    assert model_sha == sha
    torch.testing.assert_close(
        model.backbone.stages[3][0].depthwise[0].weight, reference.stages[3][0].depthwise[0].weight
    )


@pytest.mark.parametrize(("classes", "dropout"), [(1, 0.2), (3, 1.0), (3, -0.1)])
def test_bad_head_settings_are_refused(classes: int, dropout: float) -> None:
    with pytest.raises(ValueError, match="classes|dropout"):
        DefectClassifier(classes, dropout)


def test_round_trip_keeps_weights_and_metadata(saved: Path) -> None:
    original = _package()
    loaded = load_classifier_package(saved)
    assert loaded.classes == CLASSES
    assert loaded.input_size == 64 and loaded.dropout == 0.3
    assert loaded.metrics == {"accuracy": 0.9}
    assert loaded.dataset["fingerprint"] == "cd" * 32
    assert loaded.curves[0]["val_loss"] == 0.5
    assert loaded.version.startswith("tiles-") and len(loaded.version.split("-")[-1]) == 8
    assert set(loaded.files) == {WEIGHTS_FILE, "curves.png"}
    for key, value in original.state_dict.items():
        assert torch.equal(loaded.state_dict[key], value), key
    meta = json.loads((saved / METADATA_FILE).read_text())
    assert meta["kind"] == "classifier" and meta["task"] == "classify"
    assert meta["backbone"] == "efficientnet_lite0"
    assert not list(saved.parent.glob("*.partial-*"))


def test_tampered_weights_are_refused(saved: Path) -> None:
    data = bytearray((saved / WEIGHTS_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (saved / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match="SHA-256.*damaged or was changed"):
        load_classifier_package(saved)


def test_tampered_extra_file_is_refused(saved: Path) -> None:
    (saved / "curves.png").write_bytes(b"other")
    with pytest.raises(ModelPackageError, match="curves.png"):
        load_classifier_package(saved)


class _Exploit:
    """Pickles into a call that would create a file if it were ever unpickled unsafely."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.target,))


def test_malicious_pickle_is_refused_and_never_run(saved: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _resign(saved, WEIGHTS_FILE, pickle.dumps({"classifier.weight": _Exploit(marker)}))
    with pytest.raises(ModelPackageError, match="not a plain tensor file.*unsafe"):
        load_classifier_package(saved)
    assert not marker.exists()


def test_weights_for_other_classes_are_refused(saved: Path) -> None:
    meta = json.loads((saved / METADATA_FILE).read_text())
    meta["classes"] = ["a", "b", "c", "d"]
    (saved / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match=r"classifier.weight.*for 4 classes"):
        load_classifier_package(saved)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "patchcore", "expected 'classifier'"),
        ("format_version", 99, "format_version 99"),
        ("classes", ["good", "good"], "distinct"),
        ("input_size", 8, "input_size"),
        ("std", [0.5, 0, 0.5], "positive"),
    ],
)
def test_bad_metadata_is_refused_with_the_field_named(
    saved: Path, field: str, value: object, message: str
) -> None:
    meta = json.loads((saved / METADATA_FILE).read_text())
    meta[field] = value
    (saved / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match=message):
        load_classifier_package(saved)


def test_missing_or_partial_packages_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match="does not exist"):
        load_classifier_package(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / WEIGHTS_FILE).write_bytes(b"x")
    with pytest.raises(ModelPackageError, match="no model.json"):
        load_classifier_package(tmp_path / "half")


def test_saving_refuses_foreign_folders_and_replaces_only_with_overwrite(
    saved: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds other files"):
        save_classifier_package(_package(), other)
    assert (other / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="already holds a model package"):
        save_classifier_package(_package(1), saved)
    replaced = save_classifier_package(_package(1), saved, overwrite=True)
    assert load_classifier_package(saved).version == replaced.version
    assert not (saved / "curves.png").exists()  # the old package is gone, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "pkg"]


def test_weights_that_do_not_fit_the_classes_are_not_saved(tmp_path: Path) -> None:
    package = _package()
    wrong = ClassifierPackage(**{**package.__dict__, "classes": ("a", "b")})
    with pytest.raises(ValueError, match="cannot save the classifier"):
        save_classifier_package(wrong, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_inference_gives_probabilities_per_class_from_a_package_folder(saved: Path) -> None:
    from_disk = ClassifierInferencer(saved, device="cpu", max_batch=2)
    in_memory = ClassifierInferencer(_package(), device="cpu")
    images = _images(3)
    results = from_disk.predict(images)
    assert from_disk.classes == CLASSES and len(results) == 3
    for result, row in zip(results, in_memory.probabilities(images), strict=True):
        assert list(result.probabilities) == list(CLASSES)
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert result.top_class == CLASSES[int(np.argmax(row))]
        assert result.top_probability == max(result.probabilities.values())
        np.testing.assert_allclose(list(result.probabilities.values()), row, atol=1e-4)
        with pytest.raises(TypeError):
            result.probabilities["good"] = 1.0  # type: ignore[index]


def test_inference_refuses_bad_images(saved: Path) -> None:
    inferencer = ClassifierInferencer(saved, device="cpu")
    with pytest.raises(ValueError, match="no images"):
        inferencer.predict([])
    with pytest.raises(ValueError, match="RGB uint8"):
        inferencer.predict([np.zeros((10, 10), np.uint8)])
