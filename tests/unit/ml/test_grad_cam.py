"""Grad-CAM points at the defect, for the class asked, through the classifier's own path.

A tiny classifier really trained on drawn parts (``tests.trained_tiny_classifier``),
and, when the shared dataset is present, one trained on a slice of
magnetic-tile ``train/``, explained on ``val/`` tiles against their
hand-drawn defect masks.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.acquisition.image_files import read_image
from inspector.ml.classifier_inference import ClassifierInferencer
from inspector.ml.grad_cam import class_activation_maps, mass_inside
from inspector.training.classifier_config import TrainConfig
from inspector.training.train_classifier import train_classifier
from tests.trained_tiny_classifier import in_thread, synthetic_part


@pytest.fixture(scope="module")
def inferencer(trained_classifier: Path) -> ClassifierInferencer:
    return ClassifierInferencer(trained_classifier, device="cpu")


def _ratio(heat: np.ndarray, mask: np.ndarray) -> float:
    inside, share = mass_inside(heat, mask)
    return inside / share


def test_the_map_of_the_predicted_class_sits_on_the_defect(
    inferencer: ClassifierInferencer,
) -> None:
    parts = [synthetic_part("spot", seed) for seed in range(7000, 7004)]
    explained = in_thread(lambda: class_activation_maps(inferencer, [p for p, _ in parts]))
    for (image, mask), cam in zip(parts, explained, strict=True):
        assert cam.target_class == cam.prediction.top_class == "spot"
        assert cam.heat.shape == image.shape[:2] and cam.heat.dtype == np.float32
        assert cam.heat.min() >= 0.0 and cam.heat.max() == pytest.approx(1.0)
        # A spot covers about 1 % of the part; an even map would put 1 % of its mass there.
        assert _ratio(cam.heat, mask) > 2.5
    probabilities = in_thread(lambda: inferencer.probabilities([p for p, _ in parts]))
    shown = [[c.prediction.probabilities[k] for k in inferencer.classes] for c in explained]
    np.testing.assert_allclose(shown, probabilities, atol=1e-5)


def test_the_target_class_changes_the_map(inferencer: ClassifierInferencer) -> None:
    image, mask = synthetic_part("spot", 7100)
    spot = in_thread(lambda: class_activation_maps(inferencer, [image], "spot"))[0]
    good = in_thread(lambda: class_activation_maps(inferencer, [image], "good"))[0]
    predicted = in_thread(lambda: class_activation_maps(inferencer, [image]))[0]
    assert good.target_class == "good" and spot.target_class == "spot"
    np.testing.assert_array_equal(predicted.heat, spot.heat)
    # The evidence for "good" is the bare texture, not the spot.
    good_inside = mass_inside(good.heat, mask)[0] if good.peak > 0 else 0.0
    assert good_inside < 0.5 * mass_inside(spot.heat, mask)[0]


def test_bad_requests_say_what_to_do(inferencer: ClassifierInferencer) -> None:
    image, _ = synthetic_part("good", 1)
    with pytest.raises(ValueError, match="not one of the model's classes"):
        class_activation_maps(inferencer, [image], "dent")
    with pytest.raises(ValueError, match="no images to explain"):
        class_activation_maps(inferencer, [])
    with pytest.raises(ValueError, match="differ in size"):
        mass_inside(np.ones((4, 4), np.float32), np.ones((5, 4), np.uint8))


@pytest.mark.slow
@pytest.mark.dataset
def test_on_magnetic_tile_the_map_looks_at_the_marked_defect(
    magnetic_tile: Path, tmp_path: Path
) -> None:
    """A classifier trained on 8 tiles per class of train/ explains val/ blowholes and breaks."""
    data = tmp_path / "train"
    for kind in ("good", "blowhole", "break"):
        (data / kind).mkdir(parents=True)
        for jpg in sorted((magnetic_tile / "train" / kind).glob("*.jpg"))[:8]:
            (data / kind / jpg.name).symlink_to(jpg)
    config = TrainConfig(strategy="frozen", head_epochs=40, batch_size=8, views=1, device="cpu")
    package = in_thread(lambda: train_classifier(data, tmp_path / "mt", config)).package_dir
    model = ClassifierInferencer(package, device="cpu")
    ratios = []
    for kind in ("blowhole", "break"):
        for jpg in sorted((magnetic_tile / "val" / kind).glob("*.jpg"))[:3]:
            image = read_image(jpg)
            mask = cv2.imread(str(jpg.with_suffix(".png")), cv2.IMREAD_GRAYSCALE)
            cam = in_thread(
                lambda image=image, kind=kind: class_activation_maps(model, [image], kind)
            )
            ratios.append(_ratio(cam[0].heat, mask))
    # Defects cover 0.1-5 % of a tile: a map that ignored them would score about 1.
    assert float(np.mean(ratios)) > 3.0, ratios
