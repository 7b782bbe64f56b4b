"""The classifier's default input side follows the images' own size."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.core.errors import SourceError
from inspector.training.classifier_data import auto_image_size
from inspector.training.evaluate import LabelledImage
from tests.unit.training.images import write_image


def _items(folder: Path, sizes: list[tuple[int, int]]) -> list[LabelledImage]:
    return [
        LabelledImage(write_image(folder / f"{n}.png", seed=n, size=size), "a", None)
        for n, size in enumerate(sizes)
    ]


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([(200, 200)] * 3, 224),  # NEU-DET: enlarged to the backbone's size, no further
        ([(246, 196), (260, 260), (267, 250), (357, 298), (400, 200)], 288),
        ([(300, 330)] * 3, 320),  # magnetic-tile's median: kept whole
        ([(1024, 1280)] * 2 + [(64, 64)], 320),  # large images: capped for CPU training
        ([(40, 60)] * 3, 224),
    ],
)
def test_the_median_side_rounded_up_to_32_within_224_and_320(
    tmp_path: Path, sizes: list[tuple[int, int]], expected: int
) -> None:
    assert auto_image_size(_items(tmp_path, sizes)) == expected


def test_unreadable_images_only_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "a.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(SourceError, match="input size"):
        auto_image_size([LabelledImage(broken, "a", None)])
