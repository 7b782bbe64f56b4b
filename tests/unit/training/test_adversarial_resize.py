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


def test_the_attack_path_standardises_as_the_line_does() -> None:
    """With standardised exposure the attack's input is the line's, up to the line's rounding
    (a uint8 resize, gained by 40 / spread) and a clipped glare spot."""
    import torch

    from inspector.training.adversarial import PixelPath

    rng = np.random.default_rng(1)
    image = np.clip(rng.normal(110, 30, (300, 410, 3)), 0, 255).astype(np.uint8)
    image[:20, :20] = 255
    half = [0.5, 0.5, 0.5]
    path = PixelPath(torch.device("cpu"), 224, half, half, "standardised")
    attack = path.batch([torch.from_numpy(image.astype(np.float32))]).numpy()[0]
    line = normalise_batch([image], 224, half, half, exposure="standardised")[0]
    # One grey level is 2/255 here; the line rounds its resize, so allow a few levels.
    assert np.abs(attack - line).max() < 5 * 2 / 255
    assert np.abs(attack - line).mean() < 2 / 255
    plain = PixelPath(torch.device("cpu"), 224, half, half).batch(
        [torch.from_numpy(image.astype(np.float32))]
    )
    assert np.abs(plain.numpy()[0] - line).mean() > 0.05  # it is not the unstandardised input
