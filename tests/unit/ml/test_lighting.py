"""The taught lighting range: measuring frames, the margin, the operator's sentence, the file."""

from __future__ import annotations

import numpy as np
import pytest

from inspector.ml.lighting import (
    LightingRange,
    Span,
    grey_levels,
    lighting_entry,
    scorer_lighting,
)


def _grey(values: list[float], size: int = 8) -> np.ndarray:
    """An RGB image whose grey levels are ``values`` repeated column-wise."""
    row = np.resize(np.asarray(values, np.float32), size)
    grey = np.tile(row, (size, 1))
    return np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)


def test_grey_levels_are_the_luminance_mean_and_spread() -> None:
    assert grey_levels(_grey([100.0])) == (pytest.approx(100.0), pytest.approx(0.0))
    assert grey_levels(_grey([90.0, 110.0])) == (pytest.approx(100.0), pytest.approx(10.0))
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200  # RGB: luminance 0.299 * 200
    assert grey_levels(red)[0] == pytest.approx(59.8, abs=0.01)


def test_large_frames_are_sampled_and_measure_the_same() -> None:
    rng = np.random.default_rng(0)
    grey = rng.integers(60, 181, (2048, 2560, 1), dtype=np.uint8)
    big = np.repeat(grey, 3, axis=2)
    mean, spread = grey_levels(big)
    assert mean == pytest.approx(120.0, abs=1.0)
    assert spread == pytest.approx(34.9, abs=1.0)  # uniform 60..180: 121 / sqrt(12)


def test_grey_levels_refuse_what_is_not_an_rgb_image() -> None:
    with pytest.raises(ValueError, match="RGB image"):
        grey_levels(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="RGB image"):
        grey_levels(np.zeros((0, 4, 3), np.uint8))


def test_the_taught_range_is_widened_by_a_quarter_of_its_width_or_a_tenth_of_its_top() -> None:
    wide = LightingRange.taught([(60.0, 20.0), (140.0, 30.0), (100.0, 25.0)])
    # brightness 60..140: margin max(0.25 * 80, 0.1 * 140) = 20
    assert wide.brightness == Span(40.0, 160.0)
    # contrast 20..30: margin max(0.25 * 10, 0.1 * 30) = 3
    assert wide.contrast == Span(17.0, 33.0)
    assert wide.images == 3
    alike = LightingRange.taught([(120.0, 20.0), (126.0, 20.0)])
    assert alike.brightness == Span(pytest.approx(107.4), pytest.approx(138.6))  # 0.1 * 126
    assert alike.contrast == Span(18.0, 22.0)
    edge = LightingRange.taught([(5.0, 1.0), (250.0, 120.0)])
    assert edge.brightness == Span(0.0, 255.0) and edge.contrast == Span(0.0, 128.0)


def test_no_images_make_no_range() -> None:
    with pytest.raises(ValueError, match="at least one good image"):
        LightingRange.taught([])


def test_a_frame_lit_otherwise_is_named_with_what_and_by_how_much() -> None:
    taught = LightingRange(Span(90.0, 130.0), Span(8.0, 20.0), 10)
    assert taught.fault(_grey([100.0, 120.0])) is None  # mean 110, spread 10
    dark = taught.fault(_grey([40.0, 60.0]))  # mean 50, spread 10
    assert dark is not None
    assert "darker than taught (mean grey 50, taught 90-130)" in dark
    assert "contrast" not in dark
    assert "check the lamp" in dark and "teach good parts" in dark
    flat = taught.fault(_grey([108.0, 112.0]))  # spread 2
    assert flat is not None and "less contrast than taught (grey spread 2, taught 8-20)" in flat
    glare = taught.fault(_grey([150.0, 250.0]))  # mean 200, spread 50
    assert glare is not None
    assert "brighter than taught" in glare and "more contrast than taught" in glare


def test_parts_taught_later_grow_the_range() -> None:
    taught = LightingRange(Span(90.0, 130.0), Span(8.0, 20.0), 10)
    assert taught.including([]) is taught
    grown = taught.including([(150.0, 10.0)])  # alone: 150 +- 15, 10 +- 1
    assert grown.brightness == Span(90.0, 165.0)
    assert grown.contrast == Span(8.0, 20.0)
    assert grown.images == 11
    assert grown.fault(_grey([150.0, 170.0])) is None  # mean 160, spread 10


def test_the_range_round_trips_through_model_json() -> None:
    taught = LightingRange(Span(72.52, 146.06), Span(37.21, 83.71), 240)
    assert LightingRange.from_json(taught.as_json()) == taught
    assert lighting_entry({"lighting": taught.as_json()}, ValueError) == taught
    assert lighting_entry({}, ValueError) is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"brightness": [10, 5], "contrast": [1, 2], "images": 3}, "lighting.brightness"),
        ({"brightness": [10, 300], "contrast": [1, 2], "images": 3}, "lighting.brightness"),
        ({"brightness": [10, 20], "contrast": [1, "2"], "images": 3}, "lighting.contrast"),
        ({"brightness": [10, 20], "contrast": [1, float("nan")], "images": 3}, "lighting.contrast"),
        ({"brightness": [10, 20], "contrast": [1, 2]}, "lighting.images"),
        ({"brightness": [10, 20], "contrast": [1, 2], "images": True}, "lighting.images"),
        ("bright", "'lighting' is 'bright'"),
    ],
)
def test_a_wrong_entry_is_refused_by_the_packages_own_error(entry: object, problem: str) -> None:
    class PackageError(Exception):
        pass

    with pytest.raises(PackageError, match=problem) as caught:
        lighting_entry({"lighting": entry}, PackageError)
    assert "refit the model" in str(caught.value)


def test_only_scorers_that_keep_a_range_are_checked() -> None:
    taught = LightingRange(Span(90.0, 130.0), Span(8.0, 20.0), 10)

    class Keeps:
        lighting = taught

    class Other:
        lighting = "bright"

    assert scorer_lighting(Keeps()) is taught
    assert scorer_lighting(Other()) is None
    assert scorer_lighting(object()) is None
