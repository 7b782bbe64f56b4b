"""Drawing a class-activation map and laying out figures: colour where the evidence is only."""

from __future__ import annotations

import numpy as np
import pytest

from inspector.overlay.activation import blend_activation
from inspector.overlay.panels import captioned_row


def test_only_the_strong_evidence_is_tinted() -> None:
    image = np.full((40, 60, 3), 120, np.uint8)
    heat = np.zeros((40, 60), np.float32)
    heat[10:20, 30:50] = 1.0
    heat[25:35, 5:15] = 0.1  # below the default floor of 0.2
    out = blend_activation(image, heat)
    assert out.shape == image.shape and out is not image
    moved = np.abs(out.astype(np.int16) - image).sum(axis=2) > 0
    assert moved[12:18, 32:48].all()
    assert not moved[25:35, 5:15].any() and not moved[:, :25].any()
    assert (image == 120).all()  # the caller's pixels are untouched
    small = np.zeros((4, 6), np.float32)
    small[1, 4] = 1.0  # a coarse map is resized to the image
    assert blend_activation(image, small).shape == image.shape


def test_bad_inputs_are_refused() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="2-D"):
        blend_activation(image, np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="RGB uint8"):
        blend_activation(image.astype(np.float32), np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="at least one panel"):
        captioned_row([])


def test_panels_share_one_height_and_keep_their_aspect() -> None:
    wide = np.zeros((50, 100, 3), np.uint8)
    tall = np.full((100, 50, 3), 255, np.uint8)
    row = captioned_row([(wide, ["a", "b"]), (tall, ["c"])], height=100)
    assert row.dtype == np.uint8 and row.ndim == 3
    # 200 px (wide scaled to 100 high) + 16 px gap + 50 px, captions under the images.
    assert row.shape[1] == 200 + 16 + 50 and row.shape[0] > 100
    assert (row[:100, :200] == 0).all() and (row[:100, 216:266] == 255).all()
    assert (row[100:, :200] < 255).any()  # caption text was drawn
