"""The map from patch distances: upsampling and smoothing as two small matrix products."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

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
    expected = _scipy_blur(upsampled, sigma).squeeze(1)
    got = upsample_and_smooth(distances, size, kernel)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def _scipy_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """The reference: SciPy's Gaussian filter, edges repeated (``mode="nearest"``)."""
    blurred = [ndimage.gaussian_filter(m.double().numpy(), sigma, mode="nearest") for m in maps]
    return torch.from_numpy(np.stack(blurred)).float()


@pytest.mark.parametrize("sigma", [0.5, 2.0, 4.0])
def test_smooth_is_scipys_gaussian_filter_with_edges_repeated(sigma: float) -> None:
    maps = torch.rand(2, 1, 37, 53, generator=torch.Generator().manual_seed(2)) * 3
    got = smooth(maps, gaussian_kernel(sigma))
    torch.testing.assert_close(got, _scipy_blur(maps, sigma), rtol=1e-5, atol=1e-5)


def test_smoothing_keeps_flat_maps_flat_and_spreads_a_peak() -> None:
    kernel = gaussian_kernel(4.0)
    assert len(kernel) == 33
    flat = torch.full((1, 1, 40, 40), 3.0)
    torch.testing.assert_close(smooth(flat, kernel), flat)
    peak = torch.zeros(1, 1, 64, 64)
    peak[0, 0, 32, 32] = 1.0
    smoothed = smooth(peak, kernel)[0, 0]
    assert abs(float(smoothed.sum()) - 1.0) < 1e-4
    assert int(smoothed.argmax()) == 32 * 64 + 32
    assert float(smoothed[32, 32]) == pytest.approx(float(kernel[16]) ** 2, rel=1e-4)


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
