"""Small real components for station tests: an in-memory source, a pixel scorer, a list sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from inspector.acquisition.source import FrameDecodeError, FrameSourceBase
from inspector.core import Frame, Inspection, ModelOutput
from inspector.ml.lighting import LightingRange


def part(defect: bool, size: int = 32) -> np.ndarray:
    """A flat grey part; a defective one has a bright 6x6 square."""
    image = np.full((size, size, 3), 128, np.uint8)
    if defect:
        image[10:16, 10:16] = 255
    return image


class ListSource(FrameSourceBase):
    """Frames from a list; indices in ``bad`` raise FrameDecodeError like a corrupt file."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        *,
        live: bool = False,
        bad: Sequence[int] = (),
        interval_s: float = 0.0,
    ) -> None:
        super().__init__("test")
        self.name = f"List ({len(images)} images)"
        self.live = live
        self._images = list(images)
        self._bad = set(bad)
        self._interval_s = interval_s

    def __next__(self) -> Frame:
        if self.closed or self._next_id >= len(self._images):
            raise StopIteration
        if self._interval_s:
            time.sleep(self._interval_s)
        part_id = self._take_part_id()
        if part_id in self._bad:
            raise FrameDecodeError(f"cannot decode item {part_id}", part_id=part_id, origin="bad")
        return self._frame(self._images[part_id], part_id, origin=f"item {part_id}")


class ContrastScorer:
    """Scores pixels by their distance from mid-grey: bright squares are anomalies."""

    version = "contrast-1"
    device_label = "CPU (test)"
    default_threshold = 0.5

    def __init__(
        self, delay_s: float = 0.0, fail: bool = False, lighting: LightingRange | None = None
    ) -> None:
        self.delay_s = delay_s
        self.fail = fail
        self.lighting = lighting  # taught lighting, as anomaly models keep it
        self.batch_sizes: list[int] = []

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        self.batch_sizes.append(len(images))
        if self.fail:
            msg = "model exploded"
            raise RuntimeError(msg)
        time.sleep(self.delay_s)
        outputs = []
        for image in images:
            anomaly_map = np.abs(image.mean(axis=2) - 128.0).astype(np.float32) / 128.0
            outputs.append(ModelOutput(float(anomaly_map.max()), anomaly_map))
        return outputs


class ListSink:
    """A record sink that keeps everything in a list (thread-safe)."""

    def __init__(self) -> None:
        self.items: list[Inspection] = []
        self._lock = threading.Lock()
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def submit(self, inspection: Inspection) -> None:
        with self._lock:
            self.items.append(inspection)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped = True
