"""Cameras and streams: frames from a live MJPEG stream, and bounded failures."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from inspector.acquisition.opencv_camera import OpenCVCamera, redact_url
from inspector.acquisition.source import FrameSource
from inspector.core.errors import SourceError


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: a hung network camera."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/video"
    server.close()


def test_a_missing_camera_index_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(SourceError, match="camera 99"):
        OpenCVCamera(99, open_timeout_s=2.0)
    assert time.monotonic() - started < 3.0


def test_a_refused_stream_fails_within_the_open_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(SourceError, match="rtsp://127.0.0.1:9/none"):
        OpenCVCamera("rtsp://127.0.0.1:9/none", open_timeout_s=2.0)
    assert time.monotonic() - started < 3.0


def test_a_stream_that_never_answers_times_out_instead_of_hanging(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(SourceError, match="127.0.0.1"):
        OpenCVCamera(silent_server, open_timeout_s=1.0)
    assert time.monotonic() - started < 2.5


def test_live_frames_then_a_read_timeout_when_the_stream_stalls(mjpeg_stream) -> None:
    camera = OpenCVCamera(mjpeg_stream.url, open_timeout_s=3.0, read_timeout_s=0.5)
    with camera:
        assert isinstance(camera, FrameSource)
        assert camera.live is True
        assert camera.name == f"Stream {mjpeg_stream.url}"
        frames = [next(camera) for _ in range(3)]
        assert [f.part_id for f in frames] == [0, 1, 2]
        assert all(f.camera_id == mjpeg_stream.url for f in frames)
        mean = frames[0].image.reshape(-1, 3).mean(0)
        assert mean[0] > 150 and mean[2] < 100  # RGB order (the stream is red)
        assert frames[0].timestamp <= frames[1].timestamp <= frames[2].timestamp
        started = time.monotonic()
        with pytest.raises(SourceError, match="no frame for 0.5 s|stopped delivering"):
            next(camera)
        assert time.monotonic() - started < 1.5
    assert camera.dropped_frames == 0


def test_close_from_another_thread_ends_a_blocked_read(mjpeg_stream) -> None:
    camera = OpenCVCamera(mjpeg_stream.url, read_timeout_s=5.0, camera_id="cam-a")
    for _ in range(3):
        assert next(camera).camera_id == "cam-a"
    timer = threading.Timer(0.2, camera.close)
    timer.start()
    started = time.monotonic()
    with pytest.raises(StopIteration):
        next(camera)  # the stream has stalled: only close() can end this wait early
    assert time.monotonic() - started < 2.0
    timer.join()


def test_a_slow_consumer_loses_frames_visibly(make_mjpeg_stream) -> None:
    """When the buffer overflows, drops are counted and show as gaps in the part ids."""
    stream = make_mjpeg_stream(frames=30, period_s=0.005)
    with OpenCVCamera(stream.url, read_timeout_s=0.5) as camera:
        time.sleep(0.6)  # the consumer is busy while the whole burst arrives
        ids = []
        with pytest.raises(SourceError):  # the burst is over and the stream stalls
            while True:
                ids.append(next(camera).part_id)
    assert camera.dropped_frames > 0
    assert len(ids) + camera.dropped_frames == 30
    assert ids[-1] == 29 and ids == sorted(ids) and ids[0] == camera.dropped_frames


def test_passwords_are_hidden_from_names_and_messages() -> None:
    assert (
        redact_url("rtsp://admin:secret@10.0.0.5:554/live") == "rtsp://admin:***@10.0.0.5:554/live"
    )
    assert redact_url("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"
    assert redact_url(3) == "camera 3"
    with pytest.raises(SourceError) as caught:
        OpenCVCamera("rtsp://admin:secret@127.0.0.1:9/live", open_timeout_s=2.0)
    assert "secret" not in str(caught.value)


def test_bad_timeouts_are_refused() -> None:
    with pytest.raises(ValueError):
        OpenCVCamera(0, open_timeout_s=0)
