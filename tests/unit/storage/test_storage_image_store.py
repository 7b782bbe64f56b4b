"""The image store: JPEG files with readable names, written atomically, read back as RGB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.core import StorageError, Verdict
from inspector.storage.image_store import ImageStore

WHEN = datetime(2026, 5, 9, 13, 45, 12, 345678, tzinfo=UTC)


def _red_image() -> np.ndarray:
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[..., 0] = 200  # R in RGB
    return image


def test_save_names_the_file_by_day_station_part_verdict_and_time(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    relative = store.save(
        _red_image(), captured_at=WHEN, station="line-1", part_id=42, verdict=Verdict.REJECT
    )
    assert relative == "2026-05-09/line-1_00000042_reject_134512345678.jpg"
    assert store.path(relative) == (tmp_path / "images" / relative).resolve()
    assert store.path(relative).is_file()


def test_file_name_uses_utc_whatever_the_clock_zone(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    local = WHEN.astimezone(timezone(timedelta(hours=-14)))  # previous calendar day locally
    relative = store.save(_red_image(), captured_at=local, station="s", part_id=1, verdict="review")
    assert relative.startswith("2026-05-09/s_00000001_review_134512")


def test_round_trip_keeps_rgb_order_and_size(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    relative = store.save(_red_image(), captured_at=WHEN, station="s", part_id=1, verdict="accept")
    loaded = store.load(relative)
    assert loaded.shape == (40, 60, 3)
    assert loaded.dtype == np.uint8
    red, green, blue = (int(loaded[..., c].mean()) for c in range(3))
    assert abs(red - 200) <= 3 and green <= 3 and blue <= 3


def test_file_is_a_real_jpeg_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    relative = store.save(_red_image(), captured_at=WHEN, station="s", part_id=1, verdict="accept")
    assert (tmp_path / relative).read_bytes()[:3] == b"\xff\xd8\xff"
    assert cv2.imread(str(tmp_path / relative)) is not None
    assert [p.name for p in (tmp_path / "2026-05-09").iterdir()] == [Path(relative).name]


def test_grey_images_are_stored_too(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    grey = np.full((10, 12), 77, dtype=np.uint8)
    relative = store.save(grey, captured_at=WHEN, station="s", part_id=1, verdict="accept")
    assert store.load(relative).shape == (10, 12, 3)


def test_same_name_twice_never_overwrites(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    args = {"captured_at": WHEN, "station": "s", "part_id": 1, "verdict": "reject"}
    first = store.save(_red_image(), **args)
    second = store.save(np.zeros((5, 5, 3), dtype=np.uint8), **args)
    assert first != second
    assert store.load(first).shape == (40, 60, 3)
    assert store.load(second).shape == (5, 5, 3)


def test_unsafe_station_names_cannot_make_folders(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    relative = store.save(
        _red_image(), captured_at=WHEN, station="../line 1/a", part_id=3, verdict="reject"
    )
    assert relative.count("/") == 1
    assert store.path(relative).parent == (tmp_path / "2026-05-09").resolve()


def test_beside_puts_images_next_to_the_database(tmp_path: Path) -> None:
    assert ImageStore.beside(tmp_path / "data" / "x.db").root == tmp_path / "data" / "images"


def test_unwritable_root_raises_storage_error_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = ImageStore(blocker / "images")
    with pytest.raises(StorageError, match=r"cannot save image .*file/images/2026-05-09"):
        store.save(_red_image(), captured_at=WHEN, station="s", part_id=1, verdict="reject")


@pytest.mark.parametrize(
    "image",
    [np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 4), np.uint8)],
)
def test_images_that_cannot_be_encoded_raise_storage_error(tmp_path: Path, image) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(StorageError, match="cannot save image 2026-05-09/s_00000001"):
        store.save(image, captured_at=WHEN, station="s", part_id=1, verdict="reject")


def test_missing_or_damaged_files_raise_storage_error(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(StorageError, match="moved or deleted"):
        store.load("2026-05-09/gone.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(StorageError, match="damaged"):
        store.load("bad.jpg")


def test_paths_outside_the_store_are_refused(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    with pytest.raises(StorageError, match="outside the image store"):
        store.path("../inspections.db")
