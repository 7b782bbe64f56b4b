"""Synthetic defects: each kind paints where its mask says, and only there."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inspector.training import synthetic_defects
from inspector.training.synthetic_defects import KIND_SHARES, KINDS, paint_defect
from tests.unit.ml.synthetic_parts import textured_part


def _painter(kind: str):  # noqa: ANN202 - the module's private painter of that kind
    if kind == "texture":
        others = [textured_part(seed) for seed in range(3)]
        return lambda rng, grey, spread: synthetic_defects._texture(rng, grey, spread, others)
    return synthetic_defects._PAINTERS[kind]


def test_every_kind_has_a_share_and_the_shares_add_up() -> None:
    assert len(KINDS) == len(KIND_SHARES)
    assert sum(KIND_SHARES) == pytest.approx(1.0)
    assert set(KINDS) == {*synthetic_defects._PAINTERS, "texture"}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_the_image_inside_its_mask_far_more_than_outside(kind: str) -> None:
    image = textured_part(7).astype(np.float32)
    spread = float(image.std())
    for seed in range(5):
        painted, mask = _painter(kind)(np.random.default_rng(seed), image.copy(), spread)
        assert mask.shape == image.shape[:2] and mask.dtype == bool
        if not mask.any():  # a blob may miss on rare draws; paint_defect replaces those
            continue
        change = np.abs(painted - image).mean(axis=2)
        # soft edges reach a few pixels past the mask (the shade kind's up to 3 sigma)
        near = cv2.dilate(mask.astype(np.uint8), np.ones((61, 61), np.uint8)) > 0
        inside = change[mask].mean()
        assert inside > 0.2 * spread, f"{kind} seed {seed} barely changed its region"
        if (~near).any():
            assert change[~near].max() < 0.5, f"{kind} seed {seed} changed pixels far away"


def test_paint_defect_returns_uint8_of_the_same_shape_with_a_mask_and_repeats() -> None:
    image = textured_part(3)
    others = [textured_part(seed) for seed in range(4)]
    for seed in range(20):
        painted, mask = paint_defect(np.random.default_rng(seed), image, others)
        again, mask_again = paint_defect(np.random.default_rng(seed), image, others)
        assert painted.dtype == np.uint8 and painted.shape == image.shape
        assert mask.any()
        np.testing.assert_array_equal(painted, again)
        np.testing.assert_array_equal(mask, mask_again)
    assert not np.shares_memory(painted, image)


def test_a_flat_part_still_gets_visible_defects() -> None:
    """Strength follows the image's spread, but never less than LEAST_SPREAD: a part with
    no texture at all (spread 0) still gets defects a head can learn from."""
    flat = np.full((96, 96, 3), 100, np.uint8)
    for seed in range(10):
        painted, mask = paint_defect(np.random.default_rng(seed), flat, [flat])
        change = np.abs(painted.astype(np.float32) - flat).mean(axis=2)
        assert change[mask].mean() > 0.3 * synthetic_defects.LEAST_SPREAD, f"seed {seed}"
