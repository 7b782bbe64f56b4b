"""An inspection as it was stored: what quality reports and review read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inspector.core.inspection import Defect
from inspector.core.verdict import Verdict


@dataclass(frozen=True, eq=False)
class StoredInspection:
    """One part's record from the database (no pixels; ``image_path`` points to them).

    ``image_path`` is relative to the image store root, or ``None`` when the
    image was not kept (goods are sampled). ``serial`` is the part's own serial
    or lot number when one was read. ``grey_mean`` and ``grey_spread`` are the
    frame's grey levels (records before schema 0008 have none).
    """

    id: int
    captured_at: datetime
    station: str
    camera_id: str
    part_id: int
    verdict: Verdict
    score: float | None
    threshold: float
    model_version: str
    rules_version: str
    inference_ms: float
    latency_ms: float
    error: str | None
    image_path: str | None
    defects: tuple[Defect, ...]
    serial: str | None = None
    grey_mean: float | None = None
    grey_spread: float | None = None
