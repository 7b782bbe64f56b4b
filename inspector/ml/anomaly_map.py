"""From patch distances to an anomaly map and an image score: smoothing and top-area mean.

Plain tensor functions (no state), shared by :class:`~inspector.ml.patchcore.PatchCore`
and its export form, so the ONNX graph makes the map the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian taps, 4 sigma either side (as ``scipy.ndimage``)."""
    radius = int(4.0 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    taps = torch.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


def smooth(maps: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable blur of ``(N, 1, H, W)`` maps with 1-D ``kernel`` taps (one tap: none);
    borders repeat the edge value, so a defect at the rim is not diluted by zeros."""
    if kernel.numel() == 1:
        return maps
    return _blur(_blur(maps, kernel, vertical=False), kernel, vertical=True)


def _blur(maps: torch.Tensor, kernel: torch.Tensor, *, vertical: bool) -> torch.Tensor:
    """One axis of :func:`smooth`: ``(N, 1, H, W)`` blurred along H or W, edges repeated."""
    radius = kernel.numel() // 2
    taps = kernel.to(maps.dtype)
    if vertical:
        padded = F.pad(maps, (0, 0, radius, radius), mode="replicate")
        return F.conv2d(padded, taps.view(1, 1, -1, 1))
    padded = F.pad(maps, (radius, radius, 0, 0), mode="replicate")
    return F.conv2d(padded, taps.view(1, 1, 1, -1))


def upsample_and_smooth(
    cells: torch.Tensor, size: tuple[int, int], kernel: torch.Tensor
) -> torch.Tensor:
    """Bilinear upsampling of ``(N, 1, h, w)`` cells to ``size``, then :func:`smooth`, as two
    small matrix products: ``(N, H, W)``.

    Both steps are linear and separable, so each axis is one ``(H, h)`` operator
    (built by sending the identity through the very same ``interpolate`` and
    blur, so the result is the same up to float rounding). Blurring the full
    map with a 33-tap kernel on a 1-channel image was 12 % of the torch model's
    time on 2 CPU cores; the products are a few hundred thousand multiply-adds.
    """
    rows = _axis_operator(cells.shape[2], size[0], kernel, cells)
    cols = _axis_operator(cells.shape[3], size[1], kernel, cells)
    return torch.matmul(torch.matmul(rows, cells[:, 0]), cols.t())


def _axis_operator(cells: int, out: int, kernel: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``(out, cells)``: one axis's upsampling (align_corners false) followed by the blur."""
    basis = torch.eye(cells, dtype=like.dtype, device=like.device).view(cells, 1, 1, cells)
    line = F.interpolate(basis, size=(1, out), mode="bilinear", align_corners=False)
    if kernel.numel() > 1:
        line = _blur(line, kernel, vertical=False)
    return line.view(cells, out).t()


def top_fraction_mean(maps: torch.Tensor, fraction: float) -> torch.Tensor:
    """Image scores ``(N,)``: the mean of each map's highest ``fraction`` of values
    (``(N, H, W)`` maps; 0 takes the maximum)."""
    cells = maps.flatten(1)
    if fraction == 0.0:
        return cells.amax(dim=1)
    k = max(1, round(fraction * cells.shape[1]))
    return cells.topk(k, dim=1, sorted=False).values.mean(dim=1)
