"""The one preprocessing: resize with INTER_AREA, scale to the model's mean/std."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from inspector.ml.pixels import LEAST_SPREAD, STANDARD_MEAN, STANDARD_SPREAD
from inspector.ml.preprocess import preprocess, standardise_exposure_tensor

HALF = (0.5, 0.5, 0.5)


def test_images_of_any_size_become_one_square_batch() -> None:
    images = [np.zeros((480, 640, 3), np.uint8), np.zeros((50, 30, 3), np.uint8)]
    batch = preprocess(images, 64, HALF, HALF)
    assert batch.shape == (2, 3, 64, 64)
    assert batch.dtype == torch.float32
    assert batch.is_contiguous()


def test_black_and_white_map_to_minus_one_and_one() -> None:
    black, white = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)
    batch = preprocess([black, white], 8, HALF, HALF)
    assert torch.all(batch[0] == -1.0)
    assert torch.allclose(batch[1], torch.ones_like(batch[1]))


def test_channels_keep_rgb_order_and_their_own_mean_and_std() -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 255  # pure red
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    batch = preprocess([image], 4, mean, std)
    expected = [(1.0 - mean[0]) / std[0], -mean[1] / std[1], -mean[2] / std[2]]
    assert torch.allclose(batch[0, :, 0, 0], torch.tensor(expected), atol=1e-5)


def test_resize_is_cv2_inter_area() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    batch = preprocess([image], 32, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    expected = cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA) / 255.0
    actual = batch[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_views_such_as_flips_and_crops_are_accepted() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    views = [image[:, ::-1], image[10:50, 5:70], image[::2, ::2]]
    batch = preprocess(views, 16, HALF, HALF)
    copies = preprocess([np.ascontiguousarray(v) for v in views], 16, HALF, HALF)
    assert torch.equal(batch, copies)


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (np.zeros((8, 8), np.uint8), r"shape \(8, 8\)"),
        (np.zeros((8, 8, 4), np.uint8), r"shape \(8, 8, 4\)"),
        (np.zeros((8, 8, 3), np.float32), "dtype float32"),
        ([[0, 0, 0]], "is a list"),
    ],
)
def test_non_rgb_uint8_images_are_refused_by_position(image: object, problem: str) -> None:
    good = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=f"image 1 .*{problem}"):
        preprocess([good, image], 8, HALF, HALF)


def test_no_images_is_an_error() -> None:
    with pytest.raises(ValueError, match="no images"):
        preprocess([], 8, HALF, HALF)


def _tile(seed: int = 2) -> np.ndarray:
    """Streaky grey texture, as a ground tile looks: its levels stay well inside 0-255."""
    rng = np.random.default_rng(seed)
    streaks = rng.normal(0.0, 25.0, (1, 96)).repeat(64, axis=0) + rng.normal(0.0, 6.0, (64, 96))
    return np.clip(110.0 + streaks, 0, 255).astype(np.uint8)[..., None].repeat(3, axis=2)


def test_standardised_images_have_the_standard_mean_and_spread() -> None:
    batch = preprocess([_tile()], 64, (0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255),
                       exposure="standardised")  # fmt: skip
    assert float(batch.mean()) == pytest.approx(STANDARD_MEAN, abs=0.01)
    assert float(batch.std(unbiased=False)) == pytest.approx(STANDARD_SPREAD, rel=1e-3)


def test_standardising_takes_out_brightness_and_contrast() -> None:
    tile = _tile().astype(np.float32)
    dimmer = np.clip(0.6 * tile + 20.0, 0, 255).round().astype(np.uint8)
    pair = preprocess([tile.astype(np.uint8), dimmer], 64, HALF, HALF, exposure="standardised")
    as_captured = preprocess([tile.astype(np.uint8), dimmer], 64, HALF, HALF)
    # Camera grey levels differ by a fifth of the range; standardised, only rounding is left.
    assert float((as_captured[0] - as_captured[1]).abs().mean()) > 0.1
    assert float((pair[0] - pair[1]).abs().mean()) < 0.01


def test_a_nearly_flat_frame_is_gained_at_most_five_times() -> None:
    flat = np.full((16, 16, 3), 37, np.uint8)
    flat[0, 0] = 38  # sensor noise on a covered lens: not blown up into texture
    batch = preprocess([flat], 16, (0.0, 0.0, 0.0), (1 / 255,) * 3, exposure="standardised")
    assert float(batch.max() - batch.min()) == pytest.approx(STANDARD_SPREAD / LEAST_SPREAD)
    assert float(batch.mean()) == pytest.approx(STANDARD_MEAN, abs=0.1)


def test_glare_is_clipped_to_the_grey_range() -> None:
    tile = _tile()
    tile[:8, :8] = 255
    batch = preprocess([tile], 64, (0.0, 0.0, 0.0), (1 / 255,) * 3, exposure="standardised")
    assert float(batch.min()) >= 0.0 and float(batch.max()) == 255.0


def test_the_differentiable_twin_matches() -> None:
    images = [_tile(3), np.full((40, 40, 3), 200, np.uint8)]
    raw = preprocess(images, 32, (0.0, 0.0, 0.0), (1 / 255,) * 3)
    numpy_side = preprocess(images, 32, (0.0, 0.0, 0.0), (1 / 255,) * 3, exposure="standardised")
    torch.testing.assert_close(standardise_exposure_tensor(raw), numpy_side, atol=1e-3, rtol=0)


def test_an_unknown_exposure_is_an_error() -> None:
    with pytest.raises(ValueError, match="exposure is 'auto', expected one of"):
        preprocess([_tile()], 8, HALF, HALF, exposure="auto")
