"""Test-wide setup: Qt runs offscreen; the shared dataset is optional."""

import os
from pathlib import Path

import pytest

# Without a platform and without a display Qt aborts the whole test run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "magnetic-tile"


@pytest.fixture
def magnetic_tile() -> Path:
    """The real magnetic-tile dataset, or a clean skip where it is not present."""
    if not DATASET.is_dir():
        pytest.skip(f"dataset not present at {DATASET}")
    return DATASET
