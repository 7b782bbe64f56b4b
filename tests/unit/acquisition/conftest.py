"""Real media for the acquisition tests: image files, a video file and an MJPEG stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB image the way a camera vendor's tool would (OpenCV stores BGR)."""
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def solid(rgb: tuple[int, int, int], shape: tuple[int, int] = (32, 48)) -> np.ndarray:
    """A solid-colour RGB image: survives JPEG well enough to identify frames."""
    return np.full((*shape, 3), rgb, np.uint8)


def write_video(path: Path, colours: list[tuple[int, int, int]], fourcc: str = "MJPG") -> Path:
    """Write one solid RGB frame per colour with cv2.VideoWriter."""
    height, width = 48, 64
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (width, height))
    assert writer.isOpened(), f"this OpenCV build cannot write {fourcc} to {path.suffix}"
    for colour in colours:
        writer.write(cv2.cvtColor(solid(colour, (height, width)), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


class MjpegStream:
    """A local HTTP MJPEG camera that sends some frames and then stalls, as a dead camera does."""

    def __init__(self, frames: int, colour: tuple[int, int, int], period_s: float = 0.02):
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(solid(colour), cv2.COLOR_RGB2BGR))
        assert ok
        self.jpeg = jpeg.tobytes()
        self.frames = frames
        self.period_s = period_s
        self.release = threading.Event()
        stream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for _ in range(stream.frames):
                        head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                        self.wfile.write(head % len(stream.jpeg) + stream.jpeg + b"\r\n")
                        self.wfile.flush()
                        time.sleep(stream.period_s)
                    stream.release.wait(30)  # stall: the camera stops sending
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_mjpeg_stream() -> Iterator[Callable[..., MjpegStream]]:
    """Start local MJPEG cameras (``frames``, ``colour``, ``period_s``); all stopped at the end."""
    streams: list[MjpegStream] = []

    def make(
        frames: int = 3, colour: tuple[int, int, int] = (220, 30, 30), period_s: float = 0.02
    ) -> MjpegStream:
        streams.append(MjpegStream(frames, colour, period_s))
        return streams[-1]

    yield make
    for stream in streams:
        stream.stop()


@pytest.fixture
def mjpeg_stream(make_mjpeg_stream: Callable[..., MjpegStream]) -> MjpegStream:
    """A red MJPEG camera that sends three frames and then stalls."""
    return make_mjpeg_stream()


@pytest.fixture(name="write_rgb")
def _write_rgb_fixture() -> Callable[[Path, np.ndarray], Path]:
    return write_rgb


@pytest.fixture(name="write_video")
def _write_video_fixture() -> Callable[..., Path]:
    return write_video
