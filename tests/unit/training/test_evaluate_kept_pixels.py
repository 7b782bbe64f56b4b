"""What an evaluation keeps for its pixel metrics: bounded, on one grid, regions intact."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from inspector.core.verdict import Verdict
from inspector.reports import metrics
from inspector.training import evaluate
from inspector.training.data_fingerprint import UNREADABLE
from inspector.training.evaluate import EvaluatedImage, LabelledImage, decoded_batches


def _image(side: int, defect: bool) -> EvaluatedImage:
    rng = np.random.default_rng(side)
    mask = np.zeros((side, side), bool)
    if defect:
        cv2.line(mask.view(np.uint8), (1, 1), (side - 2, side // 2), 1, 3)
    amap = rng.random((side, side)).astype(np.float32)
    return EvaluatedImage(
        Path(f"{side}.png"),
        "crack" if defect else "good",
        1.0,
        Verdict.ACCEPT,
        (),
        1.0,
        (side, side),
        amap,
        mask if defect or side % 2 else None,
        regions=evaluate.defect_regions(mask),
    )


def test_the_budget_is_kept_by_one_stride_for_all_and_regions_survive_it():
    images = [_image(20, False), _image(64, True), _image(33, False)]
    kept = evaluate._KeptPixels(budget=450)
    kept.add(images[:1])
    assert kept.stride == 1
    kept.add(images[1:])  # 5,585 pixels: 1,413 at stride 2, still over; 362 at stride 4
    assert kept.stride == 4
    assert sum(i.anomaly_map.size for i in kept.images) <= kept.budget
    for whole, thin in zip(images, kept.images, strict=True):
        np.testing.assert_array_equal(thin.anomaly_map, whole.anomaly_map[::4, ::4])
        if whole.mask is None:
            assert thin.mask is None
        else:
            np.testing.assert_array_equal(thin.mask, whole.mask[::4, ::4])
    crack = kept.images[1]
    assert crack.regions is not None and set(np.unique(crack.regions)) == {0, 1}
    assert np.array_equal(crack.regions > 0, crack.mask)


def test_a_budget_below_one_pixel_per_image_stops_at_one_pixel():
    kept = evaluate._KeptPixels(budget=2)
    kept.add([_image(4, False), _image(5, False), _image(6, False)])  # returns: no endless loop
    assert [i.anomaly_map.shape for i in kept.images] == [(1, 1), (1, 1), (1, 1)]


def test_the_kept_pixels_are_never_sampled_again_by_the_metrics():
    assert evaluate.KEPT_PIXELS <= metrics.MAX_PIXELS


def test_decoding_records_the_hash_of_every_file_read(tmp_path):
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.full((8, 8, 3), 90, np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a JPEG")
    gone = tmp_path / "gone.jpg"
    items = [LabelledImage(p, "good", None) for p in (good, broken, gone)]
    unreadable: list[str] = []
    sha256: dict[Path, str] = {}
    batches = list(decoded_batches(items, 2, unreadable, sha256))
    assert [item.path for _, chunk in batches for item, _ in chunk] == [good]
    assert sha256[good] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert sha256[broken] == hashlib.sha256(broken.read_bytes()).hexdigest()  # read, not decoded
    assert sha256[gone] == UNREADABLE
    assert "cannot decode image" in unreadable[0] and "cannot read image" in unreadable[1]
