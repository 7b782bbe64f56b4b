"""The canonical layout's naming rules: which file is a mask, which names are safe."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.training.dataset_layout import (
    mask_path_for,
    safe_class_name,
    safe_stem,
    split_masks,
)
from inspector.training.evaluate import without_masks


def test_masks_are_told_from_images_by_name() -> None:
    folder = Path("crack")
    files = [
        folder / name
        for name in (
            "a.jpg",
            "a.png",  # mask of a.jpg
            "B.JPG",
            "b.png",  # mask of B.JPG, whatever the case
            "c.png",
            "c_mask.png",  # mask of the PNG image c.png
            "d.png",  # a PNG image without a mask
            "e.tif",
            "e.png",  # mask of e.tif, although "e.png" sorts first
            "e_mask.png",  # not a mask: e.png is itself a mask
        )
    ]

    images, masks = split_masks(files)

    assert [p.name for p in images] == ["a.jpg", "B.JPG", "c.png", "d.png", "e.tif", "e_mask.png"]
    assert {i.name: m.name for i, m in masks.items()} == {
        "a.jpg": "a.png",
        "B.JPG": "b.png",
        "c.png": "c_mask.png",
        "e.tif": "e.png",
    }
    assert without_masks(files) == images


def test_masks_in_other_folders_are_not_claimed() -> None:
    files = [Path("good/a.jpg"), Path("crack/a.png")]
    assert split_masks(files) == (files, {})


@pytest.mark.parametrize(
    ("image", "mask"),
    [("x/a.jpg", "x/a.png"), ("x/a.png", "x/a_mask.png"), ("x/a.b.bmp", "x/a.b.png")],
)
def test_mask_path_for(image: str, mask: str) -> None:
    assert mask_path_for(Path(image)) == Path(mask)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("crack", "crack"),
        ("scratch mark", "scratch_mark"),
        ("../../etc", "etc"),
        ("a/b\\c", "a_b_c"),
        ("-x-", "x"),
        ("...", ""),
        ("Öl-Fleck", "Ol-Fleck"),
        ("裂纹", ""),
    ],
)
def test_safe_class_name(raw: str, safe: str) -> None:
    assert safe_class_name(raw) == safe


@pytest.mark.parametrize(
    ("raw", "safe"),
    [("img 01", "img_01"), ("..", "image"), (".hidden", "hidden"), ("a..b", "a_b"), ("x/y", "x_y")],
)
def test_safe_stem(raw: str, safe: str) -> None:
    assert safe_stem(raw) == safe
