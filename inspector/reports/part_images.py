"""A stored part drawn again: its kept image with the stored defects on it.

The database keeps boxes and areas but no anomaly map or outlines (they are
large and the image store keeps JPEGs only), so a stored part is redrawn with
boxes and the verdict banner; the history dialog and the PDF say so instead of
pretending a heat map exists.
"""

from __future__ import annotations

import numpy as np

from inspector.core.errors import StorageError
from inspector.core.frame import Frame
from inspector.core.inspection import Inspection
from inspector.core.record import StoredInspection
from inspector.overlay.compose import render_overlay
from inspector.storage.image_store import ImageStore


def as_inspection(stored: StoredInspection, image: np.ndarray | None) -> Inspection:
    """The stored record as an :class:`Inspection` the overlay code can draw.

    ``image`` is the kept image, or ``None`` when it was not kept (a "no
    image" card is drawn then). An unscored part gets a NaN score, as live.
    """
    pixels = np.zeros((0, 0, 3), np.uint8) if image is None else image
    frame = Frame(
        image=pixels,
        camera_id=stored.camera_id,
        part_id=stored.part_id,
        timestamp=0.0,
        captured_at=stored.captured_at,
        origin=stored.image_path or "",
    )
    return Inspection(
        frame=frame,
        verdict=stored.verdict,
        score=float("nan") if stored.score is None else stored.score,
        threshold=stored.threshold,
        defects=stored.defects,
        anomaly_map=None,
        model_version=stored.model_version,
        rules_version=stored.rules_version,
        inference_ms=stored.inference_ms,
        latency_ms=stored.latency_ms,
        error=stored.error,
    )


def load_part_image(stored: StoredInspection, store: ImageStore) -> tuple[np.ndarray | None, str]:
    """The kept image of a part and, when there is none, why (for the viewer to show)."""
    if stored.image_path is None:
        return None, "image not kept (good parts are sampled)"
    try:
        return store.load(stored.image_path), ""
    except StorageError as exc:
        return None, str(exc)


def render_stored(
    stored: StoredInspection,
    image: np.ndarray | None,
    *,
    overlay: bool = True,
    scale: float = 2.0,
) -> np.ndarray:
    """The part with boxes (``overlay``) or its plain pixels, under the verdict banner,
    RGB ``uint8`` (the same shape either way, so toggling the boxes moves nothing)."""
    inspection = as_inspection(stored, image)
    return render_overlay(
        inspection, heatmap=False, contours=False, boxes=overlay or image is None, scale=scale
    )
