"""AnomalyInferencer: the one inference path, on the small model fitted in conftest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.core.errors import ModelPackageError
from inspector.core.inspection import ModelOutput
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.package import load_package
from inspector.training.fit_anomaly import FitResult
from tests.unit.ml.synthetic_parts import textured_part, with_blob


@pytest.fixture(scope="module")
def inferencer(fitted: FitResult) -> AnomalyInferencer:
    return AnomalyInferencer(str(fitted.package_dir), device="cpu", max_batch=3)


def test_properties_come_from_the_package(inferencer: AnomalyInferencer, fitted: FitResult) -> None:
    assert inferencer.version == fitted.version
    assert inferencer.default_threshold == fitted.threshold
    assert inferencer.input_size == 128
    assert inferencer.device_label.startswith("CPU (")


def test_maps_come_back_at_each_images_own_size(inferencer: AnomalyInferencer) -> None:
    part = textured_part(300)
    images = [part, textured_part(301, size=96), np.ascontiguousarray(part[:100, :60])]
    defect = with_blob(textured_part(302), centre=(96, 32), radius=9)
    images.append(cv2.resize(defect, (200, 200), interpolation=cv2.INTER_CUBIC))
    outputs = inferencer.predict(images)  # 4 images, max_batch 3: two batches
    assert [type(o) for o in outputs] == [ModelOutput] * 4
    assert [o.anomaly_map.shape for o in outputs] == [(128, 128), (96, 96), (100, 60), (200, 200)]
    for output in outputs:
        assert output.anomaly_map.dtype == np.float32
    # The score is the map's maximum at the model's input size; resizing never raises it.
    assert float(outputs[0].anomaly_map.max()) == outputs[0].score
    assert float(outputs[3].anomaly_map.max()) == pytest.approx(outputs[3].score, rel=1e-3)
    for output in outputs:
        assert float(output.anomaly_map.max()) <= output.score * (1 + 1e-6)
    defect = outputs[3].anomaly_map
    y, x = np.unravel_index(int(defect.argmax()), defect.shape)
    assert abs(x - 150) <= 16 and abs(y - 50) <= 16  # map is in the image's own pixels


def test_batching_does_not_change_results(inferencer: AnomalyInferencer) -> None:
    images = [textured_part(seed) for seed in range(310, 315)]
    together = inferencer.predict(images)
    alone = [inferencer.predict([image])[0] for image in images]
    for a, b in zip(together, alone, strict=True):
        assert a.score == pytest.approx(b.score, rel=1e-4)
        np.testing.assert_allclose(a.anomaly_map, b.anomaly_map, rtol=1e-3, atol=1e-3)


def test_no_images_no_outputs(inferencer: AnomalyInferencer) -> None:
    assert inferencer.predict([]) == []


def test_bad_image_is_named(inferencer: AnomalyInferencer) -> None:
    with pytest.raises(ValueError, match="image 1 .*RGB uint8"):
        inferencer.predict([textured_part(0), np.zeros((10, 10), np.uint8)])


def test_different_backbone_weights_are_refused(fitted: FitResult) -> None:
    package = replace(load_package(fitted.package_dir), backbone_sha256="0" * 64)
    with pytest.raises(ModelPackageError, match="not the ones this model was fitted with"):
        AnomalyInferencer(package, device="cpu")


def test_missing_package_is_a_package_error(tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match="does not exist"):
        AnomalyInferencer(tmp_path / "missing")


def test_max_batch_must_be_positive(fitted: FitResult) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        AnomalyInferencer(fitted.package_dir, max_batch=0)
