"""Replaying a folder of images: order, bad files, loop, errors."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from inspector.acquisition.image_folder import ImageFolderSource
from inspector.acquisition.source import FrameDecodeError, FrameSource
from inspector.core.errors import SourceError

RED, GREEN, BLUE = (230, 20, 20), (20, 230, 20), (20, 20, 230)


def _solid(colour: tuple[int, int, int]) -> np.ndarray:
    return np.full((24, 32, 3), colour, np.uint8)


def test_replays_images_in_sorted_order_as_rgb(tmp_path: Path, write_rgb) -> None:
    write_rgb(tmp_path / "b.png", _solid(GREEN))
    write_rgb(tmp_path / "a.png", _solid(RED))
    (tmp_path / "notes.txt").write_text("not an image")
    with ImageFolderSource(tmp_path, camera_id="replay") as source:
        frames = list(source)
    assert isinstance(source, FrameSource)
    assert source.live is False
    assert source.name == f"Folder {tmp_path} (2 images)"
    assert [Path(f.origin).name for f in frames] == ["a.png", "b.png"]
    assert [f.part_id for f in frames] == [0, 1]
    assert tuple(frames[0].image[0, 0]) == RED  # RGB, not OpenCV's BGR
    assert frames[1].camera_id == "replay"
    assert frames[0].truth is None  # a folder does not know its defects


def test_a_corrupt_file_raises_for_that_item_and_the_replay_goes_on(
    tmp_path: Path, write_rgb
) -> None:
    write_rgb(tmp_path / "a.png", _solid(RED))
    write_rgb(tmp_path / "b.png", _solid(GREEN))
    (tmp_path / "x.jpg").write_bytes(b"\x00garbage, not a JPEG" * 20)
    write_rgb(tmp_path / "y.png", _solid(BLUE))
    source = ImageFolderSource(tmp_path)
    assert [next(source).part_id, next(source).part_id] == [0, 1]
    with pytest.raises(FrameDecodeError) as caught:
        next(source)
    assert isinstance(caught.value, SourceError)
    assert caught.value.part_id == 2  # the bad part keeps its id: it is not lost silently
    assert Path(caught.value.origin).name == "x.jpg"
    assert "x.jpg" in str(caught.value)
    after = next(source)
    assert (after.part_id, Path(after.origin).name) == (3, "y.png")
    with pytest.raises(StopIteration):
        next(source)


def test_loop_starts_again_with_fresh_part_ids(tmp_path: Path, write_rgb) -> None:
    write_rgb(tmp_path / "a.png", _solid(RED))
    write_rgb(tmp_path / "b.png", _solid(GREEN))
    source = ImageFolderSource(tmp_path, loop=True)
    frames = [next(source) for _ in range(5)]
    assert [Path(f.origin).name for f in frames] == ["a.png", "b.png", "a.png", "b.png", "a.png"]
    assert [f.part_id for f in frames] == [0, 1, 2, 3, 4]
    source.close()
    with pytest.raises(StopIteration):
        next(source)


def test_loop_over_only_corrupt_files_stops_with_an_error(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"nope")
    source = ImageFolderSource(tmp_path, loop=True)
    with pytest.raises(FrameDecodeError):
        next(source)
    with pytest.raises(SourceError, match="no image .* could be decoded"):
        next(source)


def test_recursive_controls_sub_folders(tmp_path: Path, write_rgb) -> None:
    write_rgb(tmp_path / "top.png", _solid(RED))
    (tmp_path / "sub").mkdir()
    write_rgb(tmp_path / "sub" / "deep.png", _solid(GREEN))
    assert len(ImageFolderSource(tmp_path).paths) == 2
    assert [p.name for p in ImageFolderSource(tmp_path, recursive=False).paths] == ["top.png"]


def test_missing_or_empty_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        ImageFolderSource(tmp_path / "nowhere")
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(SourceError, match="no image files"):
        ImageFolderSource(tmp_path)


def test_rate_paces_the_replay(tmp_path: Path, write_rgb) -> None:
    for name in "abcde":
        write_rgb(tmp_path / f"{name}.png", _solid(RED))
    started = time.monotonic()
    frames = list(ImageFolderSource(tmp_path, rate_hz=40.0))
    assert len(frames) == 5
    assert 0.09 <= time.monotonic() - started <= 0.4  # 4 periods of 25 ms
