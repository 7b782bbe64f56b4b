"""A live camera or network stream read through OpenCV, with timeouts that never hang.

OpenCV's ``VideoCapture`` can block for a long time (or forever) opening an
unreachable stream or reading from an unplugged camera. Here a reader thread
owns the capture and every wait on it is bounded: opening by
``open_timeout_s``, each frame by ``read_timeout_s``. A dead device becomes a
:class:`~inspector.core.SourceError` the pipeline can report, not a frozen line.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import cv2

from inspector.acquisition.source import FrameSourceBase
from inspector.core.errors import SourceError
from inspector.core.frame import Frame

logger = logging.getLogger(__name__)

URL_SCHEMES = ("rtsp", "rtsps", "http", "https")
_BUFFER_FRAMES = 4  # absorbs consumer jitter; more would only hand out stale frames
_JOIN_TIMEOUT_S = 1.0  # close() waits this long at most for the reader thread
_END = object()  # reader -> consumer: the stream stopped delivering
_CLOSED = object()  # close() -> consumer: wake up and stop


def redact_url(device: int | str) -> str:
    """Describe a device for people and logs, hiding any password in a stream URL."""
    if isinstance(device, int):
        return f"camera {device}"
    parts = urlsplit(device)
    if parts.password is None:
        return device
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class OpenCVCamera(FrameSourceBase):
    """A camera index (``0``) or a stream URL (``rtsp://...``) as a live frame source.

    Frames are grabbed continuously by a reader thread into a small buffer.
    If the consumer falls so far behind that the buffer is full, the oldest
    frame is dropped. That is never silent: :attr:`dropped_frames` counts
    drops, a warning is logged, and part ids are assigned at capture, so a
    drop shows as a gap in the part ids downstream.

    Args:
        device: Camera index, or a stream URL or device path OpenCV can open.
        open_timeout_s: Longest wait for the device to open.
        read_timeout_s: Longest wait for each frame.
        camera_id: Camera id written on frames; defaults to ``cam<index>`` or the URL.

    Raises:
        SourceError: the device cannot be opened within ``open_timeout_s``.
    """

    live = True

    def __init__(
        self,
        device: int | str,
        *,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 2.0,
        camera_id: str | None = None,
    ) -> None:
        if open_timeout_s <= 0 or read_timeout_s <= 0:
            msg = f"timeouts must be positive, got open {open_timeout_s}, read {read_timeout_s}"
            raise ValueError(msg)
        self.device = device
        self.label = redact_url(device)
        default_id = f"cam{device}" if isinstance(device, int) else self.label
        super().__init__(camera_id or default_id)
        self.name = self.label.capitalize() if isinstance(device, int) else f"Stream {self.label}"
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.dropped_frames = 0
        self._frames: queue.Queue[object] = queue.Queue(maxsize=_BUFFER_FRAMES)
        opened: queue.Queue[str | None] = queue.Queue(maxsize=1)
        self._reader = threading.Thread(
            target=self._read_loop, args=(opened,), name=f"reader {self.label}", daemon=True
        )
        self._reader.start()
        try:
            failure = opened.get(timeout=open_timeout_s)
        except queue.Empty:
            self._closed.set()  # the reader releases the device if it ever opens
            msg = (
                f"{self.label} did not open within {open_timeout_s:g} s: check that it is "
                f"connected, powered and reachable, and not in use by another program"
            )
            raise SourceError(msg) from None
        if failure is not None:
            self._closed.set()
            raise SourceError(failure)

    def _open_capture(self) -> cv2.VideoCapture:
        """Open the device; may block (that is why it runs on the reader thread)."""
        if isinstance(self.device, str) and urlsplit(self.device).scheme in URL_SCHEMES:
            # FFmpeg's own timeouts end the blocking calls, so the thread does not linger;
            # its read timeout is longer than ours so that ours reports first, clearly
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                int(self.open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                int(self.read_timeout_s * 1500),
            ]
            return cv2.VideoCapture(self.device, cv2.CAP_FFMPEG, params)
        return cv2.VideoCapture(self.device)

    def _read_loop(self, opened: queue.Queue[str | None]) -> None:
        try:
            capture = self._open_capture()
        except cv2.error as exc:
            opened.put(f"cannot open {self.label}: {exc}")
            return
        try:
            if not capture.isOpened():
                opened.put(
                    f"cannot open {self.label}: no such camera, or the stream is unreachable "
                    f"or refused the connection; check the index or URL"
                )
                return
            opened.put(None)
            while not self._closed.is_set():
                ok, bgr = capture.read()
                if self._closed.is_set():
                    break
                if not ok or bgr is None:
                    self._put(_END)
                    break
                stamp = time.monotonic()
                image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                self._put(
                    self._frame(image, self._take_part_id(), origin=self.label, timestamp=stamp)
                )
        finally:
            capture.release()

    def _put(self, item: object) -> None:
        """Queue an item; when full, drop the oldest frame and say so."""
        while True:
            try:
                self._frames.put_nowait(item)
                return
            except queue.Full:
                try:
                    old = self._frames.get_nowait()
                except queue.Empty:
                    continue
                if isinstance(old, Frame) and not self._closed.is_set():
                    self.dropped_frames += 1
                    if self.dropped_frames == 1 or self.dropped_frames % 100 == 0:
                        logger.warning(
                            "%s: consumer too slow, %d frame(s) dropped so far (last part %d)",
                            self.label,
                            self.dropped_frames,
                            old.part_id,
                        )

    def __next__(self) -> Frame:
        if self._closed.is_set():
            raise StopIteration
        try:
            item = self._frames.get(timeout=self.read_timeout_s)
        except queue.Empty:
            if self._closed.is_set():
                raise StopIteration from None
            msg = (
                f"{self.label} delivered no frame for {self.read_timeout_s:g} s: check the "
                f"cable, power and trigger, or the network for a stream"
            )
            raise SourceError(msg) from None
        if item is _CLOSED or self._closed.is_set():
            raise StopIteration
        if item is _END:
            msg = (
                f"{self.label} stopped delivering frames (the read failed): the camera was "
                f"unplugged or the stream ended; reconnect it and restart the source"
            )
            raise SourceError(msg)
        return cast(Frame, item)

    def _release(self) -> None:
        # the reader thread owns the capture and releases it when it sees the flag;
        # wake a consumer blocked in __next__ so it stops at once
        self._put(_CLOSED)
        if self._reader is threading.current_thread():
            return
        self._reader.join(timeout=min(self.read_timeout_s, _JOIN_TIMEOUT_S))
        if self._reader.is_alive():
            # a read blocked in the driver cannot be interrupted; it returns by its own
            # timeout and the thread then releases the device, so close() need not wait
            logger.debug("%s: reader still in a blocking read; it releases on return", self.label)
