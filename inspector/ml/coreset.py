"""Greedy k-center coreset: a small memory bank that still covers every good patch.

PatchCore keeps good-patch features and scores a new patch by its distance to
the nearest one. Keeping all of them makes inference slow and memory heavy;
a random subset leaves rare-but-good patches uncovered (false alarms). The
greedy k-center selection repeatedly takes the patch farthest from everything
chosen so far, so the worst-case distance from any training patch to the bank
shrinks as fast as possible. Distances are computed on a random projection of
the features (Johnson-Lindenstrauss), which keeps them approximately and makes
each of the ``n`` passes over the patches several times cheaper.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def greedy_coreset(
    features: torch.Tensor,
    n: int,
    *,
    projection_dim: int = 128,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Choose ``n`` rows of ``features`` by greedy k-center selection.

    Args:
        features: ``(M, D)`` patch features.
        n: How many to keep; all ``M`` are kept (in order) when ``n >= M``.
        projection_dim: Dimension of the random projection used for distances;
            no projection when ``D`` is not larger.
        seed: Seeds the projection and the first pick, so a fit is repeatable.
        progress: Called as ``progress(done, n)`` now and then.

    Returns:
        ``int64`` indices into ``features``, in the order chosen: ``n`` of
        them, or fewer when all the remaining rows duplicate chosen ones.

    Raises:
        ValueError: ``features`` is not 2-D or is empty, or ``n < 1``.
    """
    if features.ndim != 2 or features.shape[0] == 0:
        msg = f"features must be a non-empty (M, D) tensor, got shape {tuple(features.shape)}"
        raise ValueError(msg)
    if n < 1:
        msg = f"coreset size must be at least 1, got {n}"
        raise ValueError(msg)
    count, dim = features.shape
    if n >= count:
        return torch.arange(count, device=features.device)

    generator = torch.Generator(device="cpu").manual_seed(seed)
    points = features.float()
    if dim > projection_dim:
        projection = torch.randn(dim, projection_dim, generator=generator) / projection_dim**0.5
        points = points @ projection.to(points.device)
    squared_norms = (points * points).sum(dim=1)
    # Below this a squared distance is rounding error: the patches are identical.
    tolerance = 1e-6 * float(squared_norms.max())
    # Points as columns: the per-pick product (1, d) @ (d, M) runs about 3x faster on a
    # CPU than (M, d) @ (d,), and that product is where the time goes.
    columns = points.t().contiguous()
    del points
    squared_norms = squared_norms[None]

    chosen = torch.empty(n, dtype=torch.long, device=features.device)
    index = int(torch.randint(count, (1,), generator=generator))
    min_dist = torch.full((count,), float("inf"), device=features.device)
    report_every = max(1, n // 50)
    for i in range(n):
        chosen[i] = index
        centre = columns[:, index].contiguous()[None]  # a strided row takes a slower path
        # |p - c|^2 = |p|^2 - 2 p.c + |c|^2
        dist = torch.addmm(squared_norms, centre, columns, alpha=-2.0)[0]
        dist += squared_norms[0, index]
        torch.minimum(min_dist, dist, out=min_dist)
        min_dist[index] = 0.0
        index = int(torch.argmax(min_dist))
        if progress is not None and (i + 1) % report_every == 0 and i + 1 < n:
            progress(i + 1, n)
        if min_dist[index] <= tolerance:  # every remaining patch duplicates a chosen one
            chosen = chosen[: i + 1]
            break
    if progress is not None:
        progress(n, n)
    return chosen
