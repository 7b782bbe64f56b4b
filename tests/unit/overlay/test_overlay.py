"""Overlays: where each annotator draws, and that the frame itself is never touched."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from inspector.core.frame import Frame
from inspector.core.inspection import Defect, Inspection
from inspector.core.verdict import Verdict
from inspector.overlay import (
    Annotator,
    BannerAnnotator,
    BoxAnnotator,
    ContourAnnotator,
    HeatMapAnnotator,
    banner_text,
    render_overlay,
)
from inspector.overlay.banner import AMBER, GREEN, RED

SIZE = 256
BANNER_ROWS = round(SIZE * BannerAnnotator().height_fraction)


def _inspection(
    *,
    verdict: Verdict = Verdict.REJECT,
    anomaly_map: np.ndarray | None = None,
    defects: tuple[Defect, ...] = (),
    threshold: float = 1.0,
    score: float = 2.0,
    error: str | None = None,
) -> Inspection:
    rng = np.random.default_rng(0)
    image = rng.integers(90, 110, size=(SIZE, SIZE, 3), dtype=np.uint8)
    frame = Frame(image, "cam", 7, 0.0, datetime.now(UTC), origin="test")
    return Inspection(
        frame=frame,
        verdict=verdict,
        score=score,
        threshold=threshold,
        defects=defects,
        anomaly_map=anomaly_map,
        model_version="m",
        rules_version="r",
        inference_ms=1.0,
        latency_ms=2.0,
        error=error,
    )


def _hot_square(level: float, background: float = 0.1) -> np.ndarray:
    """A map that is ``level`` in rows/cols 140..180 and low everywhere else."""
    anomaly_map = np.full((SIZE, SIZE), background, np.float32)
    anomaly_map[140:180, 140:180] = level
    return anomaly_map


def _square_defect() -> Defect:
    contour = np.array([[60, 80], [120, 80], [120, 130], [60, 130]], np.int32)
    return Defect("scratch", 0.93, (60, 80, 61, 51), 3000, contour)


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=2)


def test_every_annotator_keeps_the_interface() -> None:
    for annotator in (HeatMapAnnotator(), ContourAnnotator(), BoxAnnotator(), BannerAnnotator()):
        assert isinstance(annotator, Annotator)


def test_heatmap_paints_where_the_map_is_hot_and_nowhere_else() -> None:
    inspection = _inspection(anomaly_map=_hot_square(1.4))
    scene = HeatMapAnnotator().annotate(inspection.frame.image.copy(), inspection)
    changed = _changed(scene, inspection.frame.image)
    assert changed[145:175, 145:175].all()
    changed[138:182, 138:182] = False  # the edge of the square, blurred by nothing but rounding
    assert not changed.any()


def test_heatmap_colours_are_relative_to_the_threshold() -> None:
    """The same map is hot under a low threshold and invisible under a high one."""
    anomaly_map = _hot_square(1.0)
    low = _inspection(anomaly_map=anomaly_map, threshold=0.5)
    high = _inspection(anomaly_map=anomaly_map, threshold=4.0)
    annotator = HeatMapAnnotator()
    hot = annotator.annotate(low.frame.image.copy(), low)
    cold = annotator.annotate(high.frame.image.copy(), high)
    image = low.frame.image.astype(int)
    assert np.abs(hot[150:170, 150:170].astype(int) - image[150:170, 150:170]).mean() > 30
    assert np.array_equal(cold, high.frame.image)  # 0.25 x threshold is below `low`


def test_heatmap_threshold_sits_between_low_and_high() -> None:
    inspection = _inspection(anomaly_map=_hot_square(1.0), threshold=1.0)
    black = np.zeros_like(inspection.frame.image)
    scene = HeatMapAnnotator(alpha=1.0, low=0.5, high=1.5).annotate(black, inspection)
    mid = cv2.applyColorMap(np.full((1, 1), 128, np.uint8), cv2.COLORMAP_JET)[0, 0, ::-1]
    assert np.abs(scene[160, 160].astype(int) - mid.astype(int) * 0.5).max() <= 3


def test_heatmap_follows_a_map_of_another_size() -> None:
    small = np.full((64, 64), 0.1, np.float32)
    small[0:16, 0:16] = 2.0  # top-left quarter of a quarter
    inspection = _inspection(anomaly_map=small)
    scene = HeatMapAnnotator().annotate(inspection.frame.image.copy(), inspection)
    changed = _changed(scene, inspection.frame.image)
    assert changed[10:55, 10:55].all() and not changed[80:, 80:].any()


def test_no_map_or_no_threshold_is_handled() -> None:
    none = _inspection(anomaly_map=None)
    assert np.array_equal(
        HeatMapAnnotator().annotate(none.frame.image.copy(), none), none.frame.image
    )
    # without a usable threshold the map is shown relative to its own peak
    nan = _inspection(anomaly_map=_hot_square(3.0), threshold=float("nan"))
    scene = HeatMapAnnotator().annotate(nan.frame.image.copy(), nan)
    assert _changed(scene, nan.frame.image)[150:170, 150:170].all()
    zero = _inspection(anomaly_map=np.zeros((SIZE, SIZE), np.float32), threshold=float("nan"))
    assert np.array_equal(
        HeatMapAnnotator().annotate(zero.frame.image.copy(), zero), zero.frame.image
    )


def test_contours_are_drawn_on_the_defect_outline() -> None:
    inspection = _inspection(defects=(_square_defect(),))
    scene = ContourAnnotator(color=(255, 0, 255)).annotate(
        inspection.frame.image.copy(), inspection
    )
    changed = _changed(scene, inspection.frame.image)
    for x, y in [(90, 80), (60, 100), (120, 110), (90, 130)]:  # points on the outline
        assert changed[y, x]
        r, g, b = scene[y, x].astype(int)
        assert r > 200 and g < 60 and b > 200  # magenta, give or take antialiasing
    assert not changed[95:115, 70:110].any()  # inside is left alone
    assert not changed[150:, :].any() and not changed[:, 140:].any()


def test_contours_scale_with_the_scene_and_fall_back_to_the_box() -> None:
    boxed = replace(_square_defect(), contour=None)
    inspection = _inspection(defects=(boxed,))
    big = cv2.resize(inspection.frame.image, (2 * SIZE, 2 * SIZE))
    scene = ContourAnnotator().annotate(big.copy(), inspection)
    changed = _changed(scene, big)
    assert changed[160:162, 120:242].all()  # top edge of the box, at y=80 x 2
    assert not changed[170:250, 130:230].any()


def test_boxes_carry_a_label_kept_inside_the_image() -> None:
    at_corner = Defect("chip", 0.5, (236, 0, 20, 12), 100, None)
    inspection = _inspection(defects=(_square_defect(), at_corner))
    scene = BoxAnnotator(color=(255, 200, 0)).annotate(inspection.frame.image.copy(), inspection)
    changed = _changed(scene, inspection.frame.image)
    tag = np.all(scene == (255, 200, 0), axis=2)
    assert tag[65:79, 60:100].mean() > 0.5  # the tag above the first box, filled
    assert changed[80, 60:121].all()
    # the corner defect's tag is pulled inside the image: it ends at the right edge
    assert tag[0:12, 200:256].mean() > 0.4 and changed[:, 255].any()


def test_a_tag_with_no_room_above_its_box_goes_inside_it() -> None:
    near_top = Defect("spot", 0.9, (100, 5, 20, 20), 50, None)
    inspection = _inspection(defects=(near_top,))
    scene = BoxAnnotator(color=(255, 200, 0)).annotate(inspection.frame.image.copy(), inspection)
    tag = np.all(scene == (255, 200, 0), axis=2)
    assert tag[:5, 101:119].mean() < 0.1  # nothing above the box
    assert tag[6:14, 101:119].mean() > 0.5  # the tag hangs from the box's top line


@pytest.mark.parametrize(
    ("verdict", "error", "score", "text", "colour"),
    [
        (Verdict.ACCEPT, None, 0.2, "OK", GREEN),
        (Verdict.REJECT, None, 2.0, "NG", RED),
        (Verdict.REVIEW, None, 1.0, "REVIEW", AMBER),
        (Verdict.REJECT, "inference queue full", float("nan"), "NOT INSPECTED", RED),
        (Verdict.REJECT, "late: decided after 900 ms", 3.0, "NOT INSPECTED", RED),
    ],
)
def test_banner_colour_and_words_follow_the_verdict(verdict, error, score, text, colour) -> None:
    inspection = _inspection(verdict=verdict, error=error, score=score)
    assert banner_text(inspection) == (text, colour)
    scene = BannerAnnotator(opacity=1.0).annotate(inspection.frame.image.copy(), inspection)
    bar = scene[:BANNER_ROWS].reshape(-1, 3)
    fill = np.all(bar == colour, axis=1).mean()
    letters = scene[:BANNER_ROWS].min(axis=2) > 200
    assert fill > 0.6 and letters.mean() > 0.01  # a coloured bar with big white letters
    columns = np.flatnonzero(letters.any(axis=0))
    assert abs((columns[0] + columns[-1]) / 2 - SIZE / 2) < 8  # centred
    rows = np.flatnonzero(letters.any(axis=1))
    assert rows[-1] - rows[0] >= 0.5 * BANNER_ROWS  # letters fill most of the bar
    assert np.array_equal(scene[BANNER_ROWS:], inspection.frame.image[BANNER_ROWS:])
    stacked = BannerAnnotator().stacked_above(inspection.frame.image.copy(), inspection)
    assert np.array_equal(stacked[:BANNER_ROWS], scene[:BANNER_ROWS])  # same words, same look
    assert np.array_equal(stacked[BANNER_ROWS:], inspection.frame.image)


def test_render_overlay_returns_a_new_image_and_never_touches_the_frame() -> None:
    inspection = _inspection(anomaly_map=_hot_square(1.4), defects=(_square_defect(),))
    before = inspection.frame.image.copy()
    out = render_overlay(inspection)
    assert out is not inspection.frame.image
    assert not np.shares_memory(out, inspection.frame.image)
    assert np.array_equal(inspection.frame.image, before)
    assert out.shape == (SIZE + BANNER_ROWS, SIZE, 3) and out.dtype == np.uint8
    bar, part = out[:BANNER_ROWS], out[BANNER_ROWS:]
    assert np.all(bar.reshape(-1, 3) == RED, axis=1).mean() > 0.6  # the banner, above the part
    changed = _changed(part, before)
    assert changed[150:170, 150:170].all()  # the heat map
    assert changed[100, 60] and changed[80, 90]  # the outline and box
    assert not changed[200:, :40].any()  # a good area stays as it was
    assert not changed[:40, :40].any()  # the top of the part is not hidden by the banner


def test_render_overlay_upscales_before_drawing() -> None:
    inspection = _inspection(anomaly_map=_hot_square(1.4), defects=(_square_defect(),))
    out = render_overlay(inspection, scale=2.5)
    assert out.shape == (640 + round(640 * BannerAnnotator().height_fraction), 640, 3)
    plain = render_overlay(inspection, heatmap=False, contours=False, boxes=False, banner=False)
    assert np.array_equal(plain, inspection.frame.image)
    with pytest.raises(ValueError):
        render_overlay(inspection, scale=0)


def test_render_overlay_without_map_or_defects() -> None:
    inspection = _inspection(verdict=Verdict.ACCEPT, score=0.1)
    out = render_overlay(inspection)
    assert np.array_equal(out[BANNER_ROWS:], inspection.frame.image)
    assert np.all(out[:BANNER_ROWS].reshape(-1, 3) == GREEN, axis=1).mean() > 0.6


def test_a_frame_without_pixels_gets_a_no_image_card() -> None:
    """A part whose image could not be read is still shown, with its banner."""
    inspection = _inspection(score=float("nan"), error="unreadable image")
    empty = replace(inspection.frame, image=np.zeros((0, 0, 3), np.uint8))
    inspection = replace(inspection, frame=empty, defects=(_square_defect(),))
    out = render_overlay(inspection)
    assert out.shape == (SIZE + BANNER_ROWS, SIZE, 3) and out.dtype == np.uint8
    assert np.all(out[BANNER_ROWS : BANNER_ROWS + 20] == 48)  # plain card under the banner
    assert (out[BANNER_ROWS:].min(axis=2) > 150).any()  # the "no image" words
    assert np.all(out[:BANNER_ROWS, :4] == RED)  # NOT INSPECTED, red
    assert render_overlay(inspection, banner=False, scale=2.0).shape == (512, 512, 3)


def test_a_banner_stacked_above_hides_none_of_the_part() -> None:
    inspection = _inspection(verdict=Verdict.REJECT)
    image = inspection.frame.image
    stacked = BannerAnnotator().stacked_above(image.copy(), inspection)
    assert stacked.shape == (SIZE + BANNER_ROWS, SIZE, 3)
    assert np.array_equal(stacked[BANNER_ROWS:], image)  # every pixel of the part is there
    bar = stacked[:BANNER_ROWS].reshape(-1, 3)
    assert np.all(bar == RED, axis=1).mean() > 0.6
