"""Fixtures for storage tests: real SQLite files in ``tmp_path``, real core objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from inspector.core import Defect, Frame, Inspection, Verdict
from inspector.storage.engine import open_database

BASE_TIME = datetime(2026, 5, 9, 13, 45, 12, 345678, tzinfo=UTC)

MakeInspection = Callable[..., Inspection]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "inspections.db"


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    engine = open_database(db_path)
    yield engine
    engine.dispose()


@pytest.fixture
def make_inspection() -> MakeInspection:
    """Build an Inspection the way the pipeline would, with a small random image."""
    rng = np.random.default_rng(7)

    def make(
        part_id: int,
        verdict: Verdict = Verdict.ACCEPT,
        *,
        score: float = 0.25,
        defects: tuple[Defect, ...] = (),
        error: str | None = None,
        image: np.ndarray | None = None,
        seconds: float | None = None,
    ) -> Inspection:
        pixels = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8) if image is None else image
        captured_at = BASE_TIME + timedelta(seconds=part_id if seconds is None else seconds)
        frame = Frame(
            image=pixels,
            camera_id="cam0",
            part_id=part_id,
            timestamp=1000.0 + part_id,
            captured_at=captured_at,
            origin="test",
        )
        return Inspection(
            frame=frame,
            verdict=verdict,
            score=score,
            threshold=0.5,
            defects=defects,
            anomaly_map=None,
            model_version="padim-1.2.0",
            rules_version="rules-3",
            inference_ms=4.5,
            latency_ms=12.0,
            error=error,
        )

    return make


MakeDefect = Callable[..., Defect]


@pytest.fixture
def base_time() -> datetime:
    """Capture time of part 0; part ``i`` is captured ``i`` seconds later."""
    return BASE_TIME


@pytest.fixture
def make_defect() -> MakeDefect:
    """Build a defect with a contour, which storage must drop while keeping box and area."""

    def make(kind: str = "scratch", x: int = 3) -> Defect:
        contour = np.array([[x, 4], [x + 5, 4], [x + 5, 9]], dtype=np.int32)
        return Defect(kind=kind, confidence=0.875, box=(x, 4, 6, 6), area_px=21, contour=contour)

    return make
