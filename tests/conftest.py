"""Test-wide setup: Qt runs offscreen; the shared dataset is optional."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

# Without a platform and without a display Qt aborts the whole test run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Tests never touch the user's own records: code that opens the default database (the
# per-user data folder, XDG_DATA_HOME on Linux) gets a throwaway folder instead. A test
# run once migrated the real one, and an older checkout then refused to open it.
_DATA_HOME = tempfile.mkdtemp(prefix="inspector-test-data-")
os.environ["XDG_DATA_HOME"] = _DATA_HOME
atexit.register(shutil.rmtree, _DATA_HOME, ignore_errors=True)

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "magnetic-tile"


@pytest.fixture
def magnetic_tile() -> Path:
    """The real magnetic-tile dataset, or a clean skip where it is not present."""
    if not DATASET.is_dir():
        pytest.skip(f"dataset not present at {DATASET}")
    return DATASET


@pytest.fixture(scope="session")
def trained_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny classifier really trained on drawn parts (good/scratch/spot, 192 px), once per run."""
    from tests.trained_tiny_classifier import train_tiny_classifier  # torch: only when used

    return train_tiny_classifier(tmp_path_factory.mktemp("trained-classifier"))


@pytest.fixture
def berlin() -> ZoneInfo:
    """A plant's time zone with DST, or a skip where the machine has no zone database."""
    try:
        return ZoneInfo("Europe/Berlin")
    except ZoneInfoNotFoundError:
        pytest.skip("no time zone database on this machine")
