"""Replaying a real video file written with cv2.VideoWriter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.acquisition.source import FrameSource
from inspector.acquisition.video_file import VideoFileSource
from inspector.core.errors import SourceError

COLOURS = [(220, 30, 30), (30, 220, 30), (30, 30, 220), (200, 200, 40)]


def _close_to(image: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool(np.abs(image.reshape(-1, 3).mean(0) - colour).max() < 20)


def test_reads_back_every_frame_as_rgb(tmp_path: Path, write_video) -> None:
    path = write_video(tmp_path / "line.avi", COLOURS)
    with VideoFileSource(path, camera_id="rec") as source:
        frames = list(source)
    assert isinstance(source, FrameSource)
    assert source.live is False
    assert source.name == "Video line.avi (4 frames)"
    assert [f.part_id for f in frames] == [0, 1, 2, 3]
    assert [f.origin for f in frames] == [f"{path}#{i}" for i in range(4)]
    for frame, colour in zip(frames, COLOURS, strict=True):
        assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
        assert _close_to(frame.image, colour)  # RGB order, not BGR
        assert frame.camera_id == "rec"


def test_loop_restarts_from_the_first_frame(tmp_path: Path, write_video) -> None:
    source = VideoFileSource(write_video(tmp_path / "line.avi", COLOURS[:2]), loop=True)
    frames = [next(source) for _ in range(5)]
    assert [f.part_id for f in frames] == [0, 1, 2, 3, 4]
    assert [f.origin.rsplit("#", 1)[1] for f in frames] == ["0", "1", "0", "1", "0"]
    assert _close_to(frames[2].image, COLOURS[0]) and _close_to(frames[3].image, COLOURS[1])
    source.close()
    with pytest.raises(StopIteration):
        next(source)


def test_garbage_video_is_an_unreadable_video_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="unreadable video") as caught:
        VideoFileSource(path)
    assert "broken.mp4" in str(caught.value)


def test_empty_or_missing_file_is_a_source_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match="empty.avi"):
        VideoFileSource(empty)
    with pytest.raises(SourceError, match="does not exist"):
        VideoFileSource(tmp_path / "missing.mp4")
