"""The demo line: identity, ground truth, defect rate, determinism, pacing, speed."""

from __future__ import annotations

import threading
import time
from datetime import UTC

import cv2
import numpy as np
import pytest

from inspector.acquisition.demo_defects import DEFECT_KINDS
from inspector.acquisition.demo_line import DemoLine
from inspector.acquisition.source import FrameSource


def test_frames_carry_identity_and_rgb_pixels() -> None:
    with DemoLine(rate_hz=0, seed=1, max_parts=5, camera_id="line-3") as line:
        frames = list(line)
    assert isinstance(line, FrameSource)
    assert line.live is False  # unpaced: the consumer sets the pace
    assert DemoLine(rate_hz=10).live is True
    assert "Demo line" in line.name
    assert [f.part_id for f in frames] == [0, 1, 2, 3, 4]
    for frame in frames:
        assert frame.image.shape == (256, 256, 3)
        assert frame.image.dtype == np.uint8
        assert frame.camera_id == "line-3"
        assert frame.origin == "demo"
        assert frame.captured_at.tzinfo == UTC
        assert isinstance(frame.truth, tuple)
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] - time.monotonic()) < 5.0


def test_truth_lies_inside_the_image_and_matches_its_contour() -> None:
    line = DemoLine(rate_hz=0, defect_rate=1.0, seed=2)
    seen = set()
    for _ in range(40):
        image, truth = line.render()
        assert truth, "defect_rate=1 must give every part a defect"
        for defect in truth:
            seen.add(defect.kind)
            x, y, w, h = defect.box
            assert 0 <= x and 0 <= y and w > 0 and h > 0
            assert x + w <= image.shape[1] and y + h <= image.shape[0]
            assert defect.confidence == 1.0
            assert defect.area_px > 0
            contour = defect.contour
            assert contour is not None and contour.dtype == np.int32 and contour.shape[1] == 2
            # the outline is the (slightly grown) region the box encloses
            cx, cy, cw, ch = cv2.boundingRect(contour)
            assert abs(cx - x) <= 3 and abs(cy - y) <= 3
            assert abs(cx + cw - x - w) <= 3 and abs(cy + ch - y - h) <= 3
    assert seen == set(DEFECT_KINDS)


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_defects_are_visible_where_the_truth_says(kind: str) -> None:
    """Each defect stands out from the surface right at its ground-truth region."""
    line = DemoLine(rate_hz=0, defect_rate=1.0, seed=3, kinds=(kind,))
    for _ in range(8):
        image, truth = line.render()
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        surface = grey[80:176, 80:176].astype(np.float32)
        for defect in truth:
            inside = np.zeros(grey.shape, np.uint8)
            cv2.drawContours(inside, [defect.contour], -1, 1, thickness=-1)
            if kind == "chip":  # the belt shows through: much darker than the part
                assert grey[inside > 0].mean() < 0.7 * np.median(surface)
            else:  # a line or pit: strong local contrast against the surface grain
                residual = np.abs(grey.astype(np.float32) - cv2.medianBlur(grey, 9))
                background = np.abs(surface - cv2.medianBlur(grey, 9)[80:176, 80:176]).mean()
                assert residual[inside > 0].mean() > 1.5 * background


def test_good_parts_have_empty_truth_and_look_alike() -> None:
    line = DemoLine(rate_hz=0, defect_rate=0.0, seed=4)
    images = []
    for _ in range(10):
        image, truth = line.render()
        assert truth == ()
        images.append(image)
    # the part is bright, the belt dark, in every frame despite light and pose changes
    for image in images:
        assert image[100:156, 100:156].mean() > 100
        assert image[:8, :8].mean() < 80
    assert not np.array_equal(images[0], images[1])


def test_painting_defects_never_alters_the_product() -> None:
    """Defects belong to one part: later good parts must not inherit them."""
    line = DemoLine(rate_hz=0, defect_rate=1.0, seed=11, size=96)
    bank = line._bank  # the product's surfaces: shared by every line, so must stay pristine
    before = [texture.copy() for texture in bank.parts], bank.mask.copy()
    for _ in range(40):  # every one of the 8 orientations comes up
        line.render()
    assert all(np.array_equal(a, b) for a, b in zip(before[0], bank.parts, strict=True))
    assert np.array_equal(before[1], bank.mask)
    assert DemoLine(size=96, seed=12)._bank is bank  # one product, whatever the seed


def test_defect_rate_is_roughly_honoured() -> None:
    line = DemoLine(rate_hz=0, defect_rate=0.3, seed=5, size=128)
    defective = sum(bool(line.render()[1]) for _ in range(200))
    assert 40 <= defective <= 80  # 60 expected; binomial sd about 6.5


def test_a_seed_makes_the_line_reproducible() -> None:
    a = DemoLine(rate_hz=0, seed=42, max_parts=6)
    b = DemoLine(rate_hz=0, seed=42, max_parts=6)
    c = DemoLine(rate_hz=0, seed=43, max_parts=6)
    for fa, fb, fc in zip(a, b, c, strict=True):
        assert np.array_equal(fa.image, fb.image)
        assert [(d.kind, d.box) for d in fa.truth] == [(d.kind, d.box) for d in fb.truth]
        assert not np.array_equal(fa.image, fc.image)


def test_pacing_follows_the_rate() -> None:
    line = DemoLine(rate_hz=50.0, seed=6, size=128)
    started = time.monotonic()
    frames = [next(line) for _ in range(11)]
    elapsed = time.monotonic() - started
    assert 0.18 <= elapsed <= 0.4  # 10 periods of 20 ms
    gaps = np.diff([f.timestamp for f in frames])
    assert np.allclose(gaps, 0.02, atol=0.005)


def test_a_late_consumer_gets_parts_stamped_at_their_trigger_time() -> None:
    """The line does not wait for a slow consumer: lateness shows in the timestamps."""
    line = DemoLine(rate_hz=20.0, seed=7, size=128)
    first = next(line)
    time.sleep(0.3)  # six periods pass while the consumer is busy
    late = [next(line) for _ in range(3)]
    assert np.allclose(np.diff([first.timestamp] + [f.timestamp for f in late]), 0.05, atol=1e-6)
    assert time.monotonic() - late[-1].timestamp > 0.1


def test_max_parts_ends_the_line() -> None:
    assert [f.part_id for f in DemoLine(rate_hz=0, size=96, max_parts=3)] == [0, 1, 2]
    assert list(DemoLine(rate_hz=0, size=96, max_parts=0)) == []


def test_close_from_another_thread_wakes_a_paced_wait() -> None:
    line = DemoLine(rate_hz=0.2, seed=8, size=96)  # 5 s between parts
    next(line)
    timer = threading.Timer(0.1, line.close)
    timer.start()
    started = time.monotonic()
    with pytest.raises(StopIteration):
        next(line)
    assert time.monotonic() - started < 1.0
    timer.join()


def test_rendering_is_cheap() -> None:
    """Target < 5 ms per 256 px part on a 2-core CPU; the bound leaves room for a busy CI."""
    line = DemoLine(rate_hz=0, defect_rate=0.5, seed=9)
    for _ in range(5):
        line.render()
    started = time.perf_counter()
    for _ in range(50):
        line.render()
    assert (time.perf_counter() - started) / 50 < 0.02


@pytest.mark.parametrize(
    "kwargs",
    [{"defect_rate": 1.5}, {"size": 32}, {"kinds": ("dent",)}, {"kinds": ()}, {"rate_hz": -1}],
)
def test_bad_arguments_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DemoLine(**kwargs)
