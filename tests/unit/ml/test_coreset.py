"""Greedy k-center coreset: covers every cluster, repeatable, bounded radius."""

from __future__ import annotations

import pytest
import torch

from inspector.ml.coreset import greedy_coreset


def _clusters(n_clusters: int, per_cluster: int, dim: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_clusters, dim, generator=gen) * 20.0
    noise = torch.randn(n_clusters, per_cluster, dim, generator=gen) * 0.1
    return (centres[:, None, :] + noise).reshape(-1, dim)


def _radius(points: torch.Tensor, chosen: torch.Tensor) -> float:
    """Largest distance from any point to its nearest chosen point."""
    return float(torch.cdist(points, points[chosen]).min(dim=1).values.max())


def test_picks_one_point_from_every_cluster() -> None:
    points = _clusters(n_clusters=6, per_cluster=200, dim=256)  # projected to 128 dims
    chosen = greedy_coreset(points, 6, seed=3)
    assert sorted(int(i) // 200 for i in chosen) == list(range(6))


def test_indices_are_unique_and_as_many_as_asked() -> None:
    points = torch.randn(1000, 32, generator=torch.Generator().manual_seed(1))
    chosen = greedy_coreset(points, 100)
    assert chosen.dtype == torch.int64
    assert len(chosen) == 100
    assert len(set(chosen.tolist())) == 100


def test_covers_rare_patches_better_than_a_random_subset() -> None:
    gen = torch.Generator().manual_seed(2)
    common = torch.randn(2000, 8, generator=gen)
    rare = 10.0 + torch.randn(5, 8, generator=gen)  # a rare but good look of the part
    points = torch.cat([common, rare])
    chosen = greedy_coreset(points, 50, projection_dim=4)
    random = torch.randperm(len(points), generator=gen)[:50]
    assert any(int(i) >= 2000 for i in chosen)
    assert _radius(points, chosen) < 0.5 * _radius(points, random)


def test_same_seed_same_choice_other_seed_other_start() -> None:
    points = torch.randn(500, 200, generator=torch.Generator().manual_seed(4))
    first = greedy_coreset(points, 20, seed=7)
    assert torch.equal(first, greedy_coreset(points, 20, seed=7))
    assert not torch.equal(first, greedy_coreset(points, 20, seed=8))


def test_asking_for_all_or_more_keeps_everything_in_order() -> None:
    points = torch.randn(10, 4)
    assert torch.equal(greedy_coreset(points, 10), torch.arange(10))
    assert torch.equal(greedy_coreset(points, 50), torch.arange(10))


def test_stops_early_when_the_rest_are_duplicates() -> None:
    points = torch.cat([torch.ones(300, 8), torch.zeros(300, 8)])
    chosen = greedy_coreset(points, 50)
    assert sorted(int(i) // 300 for i in chosen) == [0, 1]


def test_reports_progress_up_to_done() -> None:
    calls: list[tuple[int, int]] = []
    greedy_coreset(torch.randn(400, 16), 100, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (100, 100)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) > 10


@pytest.mark.parametrize(
    ("features", "n"), [(torch.zeros(0, 4), 1), (torch.zeros(5), 1), (torch.zeros(5, 4), 0)]
)
def test_bad_arguments_are_refused(features: torch.Tensor, n: int) -> None:
    with pytest.raises(ValueError, match="features must be|at least 1"):
        greedy_coreset(features, n)
