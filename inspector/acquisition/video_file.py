"""Replays a recorded video file as a line, one part per video frame."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from inspector.acquisition.pacing import Pacer
from inspector.acquisition.source import FrameSourceBase
from inspector.core.errors import SourceError
from inspector.core.frame import Frame

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"})


class VideoFileSource(FrameSourceBase):
    """Frames of a video file decoded with OpenCV (FFmpeg), converted to RGB.

    The first frame is decoded when the source is made, so a file OpenCV
    cannot read is reported at once rather than as an empty run.

    Args:
        path: Video file.
        loop: Start again from the first frame after the last one.
        rate_hz: Frames per second to deliver; ``0`` delivers as fast as the
            consumer asks (the file's own frame rate is not imposed: a replay
            may go at any speed).
        camera_id: Camera id written on every frame.

    Raises:
        SourceError: the file is missing, cannot be opened or has no decodable frame.
    """

    live = False

    def __init__(
        self,
        path: str | Path,
        *,
        loop: bool = False,
        rate_hz: float = 0.0,
        camera_id: str = "video",
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            msg = f"video file {self.path} does not exist: check the path"
            raise SourceError(msg)
        super().__init__(camera_id)
        self.loop = loop
        self._lock = threading.Lock()
        self._pacer = Pacer(rate_hz, self._closed, live=False)
        self._capture = self._open()
        self._index = 0
        self._pending: np.ndarray | None = self._read()
        if self._pending is None:
            self._capture.release()
            msg = f"unreadable video {self.path}: no frame could be decoded (corrupt or truncated?)"
            raise SourceError(msg)
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        frames = f" ({count} frames)" if count > 0 else ""
        self.name = f"Video {self.path.name}{frames}"

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            msg = (
                f"unreadable video {self.path}: OpenCV cannot open it (corrupt file or a "
                f"codec FFmpeg lacks); try converting it to MJPG .avi or H.264 .mp4"
            )
            raise SourceError(msg)
        return capture

    def _read(self) -> np.ndarray | None:
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def __next__(self) -> Frame:
        with self._lock:
            if self._closed.is_set():
                raise StopIteration
            image = self._pending if self._pending is not None else self._read()
            self._pending = None
            if image is None and self.loop and self._index > 0:
                self._capture.release()
                self._capture = self._open()
                self._index = 0
                image = self._read()
            if image is None:
                raise StopIteration
            origin = f"{self.path}#{self._index}"
            self._index += 1
        trigger = self._pacer.wait()
        if trigger is None:
            raise StopIteration
        return self._frame(image, self._take_part_id(), origin=origin, timestamp=trigger)

    def _release(self) -> None:
        with self._lock:
            self._capture.release()
