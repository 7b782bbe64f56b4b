"""One image of one part, as it leaves the camera."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from inspector.core.inspection import Defect


@dataclass(frozen=True, eq=False)
class Frame:
    """Pixels plus the identity of the part they show.

    Attributes:
        image: RGB image, ``uint8``, shape ``(H, W, 3)``.
        camera_id: Which camera took it (a station may have several).
        part_id: Trigger count or serial number; one triggered frame is one part.
        timestamp: ``time.monotonic()`` at acquisition, for latency and deadlines.
        captured_at: Wall-clock time (UTC) for records.
        origin: Where the pixels came from (file path, URL, ``demo``), for people.
        truth: Known defects when the source knows them (the demo line does);
            ``None`` when unknown, an empty tuple for a known good part.
        serial: The part's own serial or lot number when one was read (a code on
            the part, the PLC), for traceability; ``None`` otherwise.
    """

    image: np.ndarray
    camera_id: str
    part_id: int
    timestamp: float
    captured_at: datetime
    origin: str = ""
    truth: tuple[Defect, ...] | None = field(default=None)
    serial: str | None = None
