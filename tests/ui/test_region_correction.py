"""The drawn correction (Qt-free): boxes clipped to the image, strokes, brush limits."""

from __future__ import annotations

import numpy as np
import pytest

from inspector.ui.region_correction import MAX_BRUSH, MIN_BRUSH, RegionCorrection


def test_a_box_is_clipped_to_the_image_and_a_click_keeps_the_last_box() -> None:
    correction = RegionCorrection((40, 60))
    assert correction.set_box((50.5, 30.2), (70.0, -5.0))  # dragged up and out of the image
    assert correction.box == (50, 0, 10, 31)
    assert not correction.set_box((10, 10), (11, 10.5))  # a click, not a drag
    assert correction.box == (50, 0, 10, 31)
    assert correction.mask is None and not correction.is_empty


def test_strokes_paint_and_erase_at_the_brush_width() -> None:
    correction = RegionCorrection((40, 60))
    correction.brush = 3
    correction.paint((10, 20), (50, 20))
    mask = correction.mask
    assert mask is not None and mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    assert mask[17:24, 10:51].all() and not mask[15, 30] and not mask[25, 30]
    correction.paint((30, 10), (30, 30), erase=True)
    assert not correction.mask[20, 30] and correction.mask[20, 20]
    correction.paint((0, 0), (60, 40), erase=True)
    correction.paint((0, 40), (60, 0), erase=True)
    correction.brush = 40
    correction.paint((30, 20), (30, 20), erase=True)
    assert correction.mask is None and correction.is_empty  # erased to nothing: no mask
    assert "none" in correction.describe()


def test_the_brush_grows_and_shrinks_within_its_limits() -> None:
    correction = RegionCorrection((400, 600))
    assert correction.brush == 10
    sizes = [correction.resize_brush(+1) for _ in range(40)]
    assert sizes == sorted(sizes) and sizes[-1] == MAX_BRUSH
    assert [correction.resize_brush(-1) for _ in range(60)][-1] == MIN_BRUSH
    with pytest.raises(ValueError, match="at least 1x1"):
        RegionCorrection((0, 10))
