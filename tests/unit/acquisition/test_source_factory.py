"""Parsing the source text people type into the right source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.acquisition.demo_line import DemoLine
from inspector.acquisition.factory import describe_source_forms, open_source
from inspector.acquisition.image_folder import ImageFolderSource
from inspector.acquisition.opencv_camera import OpenCVCamera
from inspector.acquisition.video_file import VideoFileSource
from inspector.core.errors import SourceError


def test_demo_takes_the_line_options() -> None:
    with open_source(" demo ", rate_hz=0, defect_rate=1.0, seed=3) as source:
        assert isinstance(source, DemoLine)
        assert (source.rate_hz, source.defect_rate) == (0.0, 1.0)
        assert next(source).truth  # defect_rate reached the line
    default = open_source("demo")
    assert (default.rate_hz, default.defect_rate) == (10.0, 0.3)


def test_a_folder_is_replayed(tmp_path: Path, write_rgb) -> None:
    write_rgb(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    source = open_source(str(tmp_path), loop=True)
    assert isinstance(source, ImageFolderSource)
    assert source.loop is True
    assert [next(source).part_id for _ in range(3)] == [0, 1, 2]


def test_a_video_file_is_replayed(tmp_path: Path, write_video) -> None:
    path = write_video(tmp_path / "clip.AVI", [(10, 20, 30)] * 2)
    source = open_source(str(path))
    assert isinstance(source, VideoFileSource)
    assert len(list(source)) == 2


def test_a_missing_video_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "gone.mp4"))


def test_numbers_and_urls_open_cameras_and_report_failures() -> None:
    with pytest.raises(SourceError, match="camera 99"):
        open_source("99")
    with pytest.raises(SourceError, match="rtsp://127.0.0.1:9/none"):
        open_source("rtsp://127.0.0.1:9/none")


def test_a_stream_url_opens_a_live_camera(mjpeg_stream) -> None:
    with open_source(mjpeg_stream.url) as source:
        assert isinstance(source, OpenCVCamera)
        assert next(source).image.ndim == 3


@pytest.mark.parametrize("spec", ["", "nonsense", "camera one", "notes.txt"])
def test_anything_else_lists_the_accepted_forms(spec: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("an existing file that is no source")
    with pytest.raises(SourceError) as caught:
        open_source(spec)
    message = str(caught.value)
    for form in ("demo", "FOLDER", ".mp4", "rtsp://", "0, 1"):
        assert form in message


def test_the_forms_are_described_for_help() -> None:
    text = describe_source_forms()
    assert len(text.splitlines()) == 6
    assert "demo" in text and "http" in text and ".webm" in text and "genicam:" in text
