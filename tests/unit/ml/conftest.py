"""Shared fixtures for the anomaly-model tests: synthetic parts and one small fitted model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.training.fit_anomaly import FitResult, fit_anomaly
from tests.unit.ml.synthetic_parts import SIZE, textured_part


@pytest.fixture(scope="session")
def good_images() -> list[np.ndarray]:
    return [textured_part(seed) for seed in range(24)]


@pytest.fixture(scope="session")
def fitted(tmp_path_factory: pytest.TempPathFactory, good_images: list[np.ndarray]) -> FitResult:
    """One fit shared by the fit and inferencer tests (about 2 s on 2 CPU cores)."""
    out: Path = tmp_path_factory.mktemp("fit") / "model"
    return fit_anomaly(
        good_images, out, input_size=SIZE, bank_size=500, device="cpu", name="synthetic"
    )
