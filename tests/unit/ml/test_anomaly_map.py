"""The map from patch distances: upsampling and smoothing as two small matrix products."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inspector.ml.anomaly_map import gaussian_kernel, smooth, upsample_and_smooth


@pytest.mark.parametrize(
    ("cells", "size", "sigma"),
    [((28, 28), (224, 224), 4.0), ((16, 16), (128, 128), 4.0), ((7, 9), (56, 80), 2.0)],
)
def test_the_products_compute_what_upsampling_then_blurring_computes(
    cells: tuple[int, int], size: tuple[int, int], sigma: float
) -> None:
    distances = torch.rand(3, 1, *cells, generator=torch.Generator().manual_seed(0)) * 5
    kernel = gaussian_kernel(sigma)
    upsampled = F.interpolate(distances, size=size, mode="bilinear", align_corners=False)
    expected = smooth(upsampled, kernel).squeeze(1)
    got = upsample_and_smooth(distances, size, kernel)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_without_smoothing_it_is_plain_bilinear_upsampling() -> None:
    distances = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    got = upsample_and_smooth(distances, (32, 32), torch.ones(1))
    expected = F.interpolate(distances, size=(32, 32), mode="bilinear", align_corners=False)
    torch.testing.assert_close(got, expected.squeeze(1), rtol=1e-6, atol=1e-6)


def test_a_hot_cell_at_the_rim_keeps_its_height() -> None:
    # Borders repeat the edge value, as smooth() does, so a rim defect is not diluted.
    distances = torch.zeros(1, 1, 8, 8)
    distances[0, 0, :, 0] = 1.0  # the whole left column
    got = upsample_and_smooth(distances, (64, 64), gaussian_kernel(2.0))
    assert got[0, 32, 0] > 0.9
