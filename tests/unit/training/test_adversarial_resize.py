"""The adversarial search's resize matrices reproduce the preprocessing's OpenCV resize."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inspector.ml.pixels import normalise_batch
from inspector.training.adversarial import resize_operators


@pytest.mark.parametrize(
    "shape", [(123, 286), (90, 150), (256, 256), (224, 224), (448, 448), (300, 410)]
)
def test_matrices_equal_cv2_inter_area_when_shrinking_enlarging_or_both(
    shape: tuple[int, int],
) -> None:
    height, width = shape
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3)).astype(np.float32)
    a, b = resize_operators(height, width, 224)
    assert a.shape == (224, height) and b.shape == (224, width)
    expected = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)
    got = np.stack([a @ image[..., c] @ b.T for c in range(3)], axis=2)
    np.testing.assert_allclose(got, expected, atol=1e-3)
    # The line resizes uint8 (rounded): the matrices stay within a grey level of it.
    line = normalise_batch([image.astype(np.uint8)], 224, [0, 0, 0], [1 / 255] * 3)[0]
    assert np.abs(got.transpose(2, 0, 1) - line).max() < 1.0
