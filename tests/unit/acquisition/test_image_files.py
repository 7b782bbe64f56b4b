"""Decoding image files: 16-bit images as OpenCV reads them, and a warning for 12-bit ones."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.acquisition import image_files
from inspector.acquisition.image_files import read_image


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_files, "_WARNED_LOW_BITS", set())


def _write(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)
    return path


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_16_bit_image_reads_as_opencv_reads_it_by_default(tmp_path, suffix, caplog):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 65536, (30, 40), dtype=np.uint16)
    colour = rng.integers(0, 65536, (30, 40, 3), dtype=np.uint16)
    for name, pixels in (("grey", grey), ("colour", colour)):
        path = _write(tmp_path / f"{name}{suffix}", pixels)
        expected = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        image = read_image(path)
        assert image.dtype == np.uint8 and np.array_equal(image, expected)
    assert "16-bit image" not in caplog.text  # full range: nothing to say


def test_a_12_bit_camera_saved_as_16_bits_is_named_once_per_folder(tmp_path, caplog):
    rng = np.random.default_rng(2)
    caplog.set_level(logging.WARNING)
    for n in range(3):
        pixels = rng.integers(0, 4096, (30, 40), dtype=np.uint16)
        image = read_image(_write(tmp_path / "line" / f"{n}.png", pixels))
        assert image.max() <= 15  # 4 bits of grey left, as OpenCV would read it
    warnings = [r.getMessage() for r in caplog.records if "16-bit image" in r.getMessage()]
    assert len(warnings) == 1
    assert "values use only 12 bits" in warnings[0] and "keeps 16 grey levels" in warnings[0]
    assert "Save 8-bit images, or scale the camera's values to the full 16 bits" in warnings[0]


def test_8_bit_images_are_unchanged(tmp_path):
    pixels = np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    image = read_image(_write(tmp_path / "part.png", pixels))
    assert np.array_equal(image, pixels[:, :, ::-1])
