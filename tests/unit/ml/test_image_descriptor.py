"""The image-level descriptor on a grid (ml/image_descriptor.py) and its package round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inspector.core.errors import ModelPackageError
from inspector.ml.image_descriptor import (
    check_grid,
    describe,
    descriptor_dim,
    descriptor_name,
    grid_of,
)
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.package import METADATA_FILE, load_package
from inspector.training.fit_anomaly import fit_anomaly
from tests.unit.ml.synthetic_parts import SIZE, textured_part


@pytest.mark.parametrize(("size", "grid"), [(14, 4), (14, 7), (7, 3), (8, 2), (5, 5)])
def test_grid_cells_are_adaptive_average_pooling(size: int, grid: int) -> None:
    deep = torch.randn(2, 6, size, size + 3, generator=torch.Generator().manual_seed(size))
    got = describe(deep, grid)
    cells = F.adaptive_avg_pool2d(deep, grid).flatten(1)
    assert got.shape == (2, descriptor_dim(6, grid)) == (2, 6 * grid * grid + 6)
    torch.testing.assert_close(got[:, : cells.shape[1]], cells)
    torch.testing.assert_close(got[:, cells.shape[1] :], deep.std(dim=(2, 3)))


def test_grid_one_is_the_whole_image_mean_and_spread() -> None:
    deep = torch.randn(3, 4, 7, 7)
    expected = torch.cat([deep.mean(dim=(2, 3)), deep.std(dim=(2, 3))], dim=1)
    assert torch.equal(describe(deep, 1), expected)


def test_names_round_trip_and_bad_grids_are_refused() -> None:
    assert [grid_of(descriptor_name(g)) for g in range(1, 10)] == list(range(1, 10))
    assert descriptor_name(1) == "mean+std"
    assert grid_of("grid10-mean+std") is None
    assert grid_of(None) is None
    for bad in (0, 10, 2.5, True):
        with pytest.raises(ValueError, match="1 to 9"):
            check_grid(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 4 cells"):
        describe(torch.zeros(1, 2, 3, 3), 4)


def test_a_grid_package_round_trips_and_a_moved_part_is_caught(tmp_path: Path) -> None:
    goods = [textured_part(seed) for seed in range(16)]
    result = fit_anomaly(
        goods,
        tmp_path / "m",
        input_size=SIZE,
        device="cpu",
        name="grid",
        global_stage=4,
        global_grid=4,
        retrieval_k=3,
    )
    meta = json.loads((result.package_dir / METADATA_FILE).read_text())
    assert meta["global_branch"]["descriptor"] == "grid4-mean+std"
    package = load_package(result.package_dir)
    assert package.global_grid == 4
    assert package.global_bank is not None and package.global_bank.shape[1] == 112 * 17
    # A part whose left half went dark is unlike every good part region by region.
    part = textured_part(99)
    darkened = part.copy()
    darkened[:, : SIZE // 2] = (darkened[:, : SIZE // 2] * 0.3).astype(np.uint8)
    inferencer = AnomalyInferencer(package, device="cpu")
    (_, good, _), (_, bad, _) = inferencer.branch_scores([part, darkened])
    assert bad > good
    meta["global_branch"]["descriptor"] = "grid4-median"
    (result.package_dir / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match="gridN-mean"):
        load_package(result.package_dir)
