"""Shop-floor corruptions: identity at 0, small at 1, large at 5, parameters as stated."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inspector.training.corruptions import (
    CORRUPTIONS,
    SEVERITIES,
    check_corruptions,
    corrupt,
    get_corruption,
)


def _part() -> np.ndarray:
    """A 96x128 colour part: a lit gradient, fine texture, a bright block and a dark hole."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    base = 70 + 0.6 * x + 0.4 * y
    base += cv2.GaussianBlur(rng.normal(0, 14, (96, 128)).astype(np.float32), (0, 0), 1.2)
    image = np.repeat(base[..., None], 3, axis=2) * np.array([1.0, 0.95, 0.9], np.float32)
    cv2.rectangle(image, (30, 20), (60, 50), (200, 190, 180), -1)
    cv2.circle(image, (95, 65), 10, (50, 50, 50), -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def _change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def part() -> np.ndarray:
    return _part()


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_severity_zero_one_five(name: str, part: np.ndarray) -> None:
    before = part.copy()
    assert corrupt(part, name, 0, np.random.default_rng(1)) is part
    changes = []
    for severity in SEVERITIES:
        out = corrupt(part, name, severity, np.random.default_rng(1))
        assert out.shape == part.shape and out.dtype == np.uint8
        assert np.array_equal(out, corrupt(part, name, severity, np.random.default_rng(1)))
        changes.append(_change(out, part))
    np.testing.assert_array_equal(part, before)  # the input is never modified
    assert 0.0 < changes[0] < 6.0, f"severity 1 of {name} should be a small change: {changes}"
    assert changes[-1] > 3.0 * changes[0], f"severity 5 of {name} should be large: {changes}"
    assert changes == sorted(changes), f"{name} should grow with severity: {changes}"


def test_brightness_moves_every_pixel_by_the_stated_grey_levels(part: np.ndarray) -> None:
    offsets = set()
    for seed in range(6):
        out = corrupt(part, "brightness", 3, np.random.default_rng(seed)).astype(np.int16)
        offset = np.unique(out - part)  # the part spans 50..200: nothing clips at 20
        assert offset.size == 1 and abs(int(offset[0])) == 20
        offsets.add(int(offset[0]))
    assert offsets == {-20, 20}, "the sign of the drift is drawn per image"


def test_noise_has_the_stated_sigma_and_keeps_a_grey_image_grey() -> None:
    grey = np.full((200, 200, 3), 128, np.uint8)
    out = corrupt(grey, "noise", 4, np.random.default_rng(3)).astype(np.float64)
    assert out.std() == pytest.approx(get_corruption("noise").level(4), rel=0.05)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    colour = grey.copy()
    colour[..., 2] = 120
    tinted = corrupt(colour, "noise", 4, np.random.default_rng(3))
    assert not (tinted[..., 0] == tinted[..., 1]).all(), "colour cameras have noise per channel"


def test_occlusion_covers_the_stated_share_with_a_dark_box(part: np.ndarray) -> None:
    for severity in (1, 5):
        out = corrupt(part, "occlusion", severity, np.random.default_rng(5))
        covered = (out != part).any(axis=2) & (out == 16).all(axis=2)
        share = 100.0 * covered.mean()
        assert share == pytest.approx(get_corruption("occlusion").level(severity), rel=0.15)


def test_shift_moves_the_part_by_the_stated_pixels() -> None:
    image = np.zeros((120, 120, 3), np.uint8)
    cv2.circle(image, (60, 60), 6, (255, 255, 255), -1)
    out = corrupt(image, "shift", 5, np.random.default_rng(2))
    moments = [cv2.moments(im[..., 0], binaryImage=False) for im in (image, out)]
    centres = [np.array([m["m10"] / m["m00"], m["m01"] / m["m00"]]) for m in moments]
    assert np.linalg.norm(centres[1] - centres[0]) == pytest.approx(16.0, abs=0.3)


def test_rotation_turns_by_the_stated_angle() -> None:
    image = np.zeros((121, 121, 3), np.uint8)
    image[58:63, 60:110] = 255  # a bar from the centre to the right
    out = corrupt(image, "rotation", 5, np.random.default_rng(4))[..., 0].astype(np.float64)
    ys, xs = np.nonzero(out > 127)
    angle = np.degrees(np.arctan2(-(ys.mean() - 60.0), xs.mean() - 60.0))
    assert abs(angle) == pytest.approx(10.0, abs=1.0)


def test_jpeg_and_blur_lose_fine_detail_more_at_higher_severity(part: np.ndarray) -> None:
    def detail(image: np.ndarray) -> float:
        return float(cv2.Laplacian(image[..., 0].astype(np.float32), cv2.CV_32F).var())

    for name in ("jpeg", "defocus", "motion"):
        mild, strong = (corrupt(part, name, s, np.random.default_rng(0)) for s in (1, 5))
        assert detail(strong) < detail(mild) < detail(part), name


def test_the_same_generator_seed_gives_the_same_choices_at_every_severity(
    part: np.ndarray,
) -> None:
    boxes = []
    for severity in (2, 5):
        out = corrupt(part, "occlusion", severity, np.random.default_rng(9))
        boxes.append((out == 16).all(axis=2) & (out != part).any(axis=2))
    small, large = boxes
    assert small.any() and (small & ~large).sum() == 0, "the same occluder, only larger"


def test_bad_input_is_refused_with_what_to_do(part: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown corruption 'fog'.*brightness"):
        corrupt(part, "fog", 1, rng)
    with pytest.raises(ValueError, match="severity 6 does not exist"):
        corrupt(part, "noise", 6, rng)
    with pytest.raises(ValueError, match="expected RGB uint8"):
        corrupt(part.astype(np.float32), "noise", 1, rng)
    with pytest.raises(ValueError, match="more than once"):
        check_corruptions(["noise", "jpeg", "noise"])
    with pytest.raises(ValueError, match="name at least one"):
        check_corruptions([])


def test_every_corruption_states_five_increasing_or_decreasing_levels() -> None:
    for corruption in CORRUPTIONS.values():
        levels = list(corruption.levels)
        assert len(levels) == len(SEVERITIES)
        assert levels in (sorted(levels), sorted(levels, reverse=True)), corruption.name
        assert corruption.unit and corruption.parameter
