"""A reviewer's corrected defect region: saved with the review, exported as the sample's mask."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, text

from inspector.core import Defect, Verdict
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections, get_inspection
from inspector.storage.review_export import export_reviewed_dataset
from inspector.storage.review_masks import add_corrected_review, load_review_mask
from inspector.storage.reviews import review_history
from tests.records import new_record

WHEN = datetime(2026, 5, 10, 8, 30, tzinfo=UTC)
SHAPE = (24, 32)  # height, width of the parts' images


def _part(engine: Engine, store: ImageStore, part_id: int, *, keep_image: bool = True) -> int:
    captured_at = WHEN + timedelta(seconds=part_id)
    image = np.full((*SHAPE, 3), 40 + part_id, np.uint8)
    path = (
        store.save(image, captured_at=captured_at, station="s", part_id=part_id, verdict="reject")
        if keep_image
        else None
    )
    record = new_record(
        captured_at=captured_at,
        station="s",
        part_id=part_id,
        verdict=Verdict.REJECT,
        score=0.9,
        image_path=path,
        defects=(Defect("scratch", 0.8, (2, 2, 5, 5), 25),),
    )
    return add_inspections(engine, [record])[0]


def _painted() -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    cv2.circle(mask, (20, 12), 4, 255, thickness=-1)
    return mask


def test_a_correction_is_stored_with_its_review_and_the_machine_record_is_untouched(
    engine: Engine, tmp_path: Path
) -> None:
    store = ImageStore(tmp_path / "images")
    part = _part(engine, store, 1)
    with engine.connect() as connection:
        before = connection.execute(text("SELECT * FROM inspections")).all()
        defects_before = connection.execute(text("SELECT * FROM defects")).all()
    review = add_corrected_review(
        engine,
        store,
        part,
        reviewer="qa",
        decision="reclassify",
        defect_class="crack",
        box=(14, 6, 12, 12),
        mask=_painted(),
        reviewed_at=WHEN,
    )
    assert review.box == (14, 6, 12, 12)
    assert review.mask_path == f"review-masks/2026-05-10/{part:010d}_083000000000.png"
    assert np.array_equal(load_review_mask(store, review.mask_path), _painted())
    [stored] = review_history(engine, part)
    assert (stored.box, stored.mask_path) == (review.box, review.mask_path)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT * FROM inspections")).all() == before
        assert connection.execute(text("SELECT * FROM defects")).all() == defects_before
    # A second opinion in the same microsecond gets its own file: the first mask stays.
    again = add_corrected_review(
        engine, store, part, reviewer="lead", decision="confirm", defect_class="scratch",
        mask=255 - _painted(), reviewed_at=WHEN,
    )  # fmt: skip
    assert again.mask_path != review.mask_path
    assert np.array_equal(load_review_mask(store, review.mask_path), _painted())


@pytest.mark.parametrize(
    ("box", "mask", "message"),
    [
        ((20, 0, 20, 5), None, "does not lie inside the 32x24 image"),
        (None, np.zeros((10, 10), np.uint8), "mask is 10x10 but the part's image is 32x24"),
        (None, np.zeros(SHAPE, np.uint8), "marks no pixel"),
        (None, np.full(SHAPE, 1, np.uint8), r"only 0 \(no defect\) and 255"),
    ],
)
def test_a_bad_correction_is_refused_and_leaves_no_file(
    engine: Engine, tmp_path: Path, box, mask, message: str
) -> None:
    store = ImageStore(tmp_path / "images")
    part = _part(engine, store, 1)
    with pytest.raises(ValueError, match=message):
        add_corrected_review(
            engine, store, part, reviewer="qa", decision="confirm", defect_class="crack",
            box=box, mask=mask,
        )  # fmt: skip
    assert review_history(engine, part) == []
    assert not (store.root / "review-masks").exists()


def test_a_refused_review_removes_the_mask_it_wrote(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    part = _part(engine, store, 1)
    with pytest.raises(ValueError, match="a part judged good has no defect class, box or mask"):
        add_corrected_review(
            engine, store, part, reviewer="qa", decision="false_reject", mask=_painted()
        )
    assert list((store.root / "review-masks").rglob("*.png")) == []


def test_a_part_without_its_image_cannot_be_corrected(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    part = _part(engine, store, 1, keep_image=False)
    with pytest.raises(ValueError, match="has no kept image"):
        add_corrected_review(
            engine, store, part, reviewer="qa", decision="confirm", defect_class="crack",
            box=(1, 1, 3, 3),
        )  # fmt: skip


def test_export_writes_the_reviewers_mask_or_the_filled_box_as_the_mask(
    engine: Engine, tmp_path: Path
) -> None:
    store = ImageStore(tmp_path / "images")
    painted, boxed, both, plain = (_part(engine, store, i) for i in (1, 2, 3, 4))
    add_corrected_review(
        engine, store, painted, reviewer="qa", decision="confirm", defect_class="scratch",
        mask=_painted(),
    )  # fmt: skip
    add_corrected_review(
        engine, store, boxed, reviewer="qa", decision="reclassify", defect_class="crack",
        box=(3, 4, 10, 6),
    )  # fmt: skip
    add_corrected_review(
        engine, store, both, reviewer="qa", decision="reclassify", defect_class="crack",
        box=(0, 0, 5, 5), mask=_painted(),
    )  # fmt: skip
    add_corrected_review(
        engine, store, plain, reviewer="qa", decision="confirm", defect_class="dent"
    )

    out = tmp_path / "export"
    result = export_reviewed_dataset(engine, store, out)

    assert dict(result.per_class) == {"crack": 2, "dent": 1, "scratch": 1}
    assert result.skipped == ()

    def mask_of(label: str, part: int) -> np.ndarray:
        return cv2.imread(str(out / label / f"{part:010d}.png"), cv2.IMREAD_UNCHANGED)

    assert np.array_equal(mask_of("scratch", painted), _painted())
    expected_box = np.zeros(SHAPE, np.uint8)
    expected_box[4:10, 3:13] = 255  # y 4..9, x 3..12
    assert np.array_equal(mask_of("crack", boxed), expected_box)
    assert np.array_equal(mask_of("crack", both), _painted())  # the brush mask is the finer one
    assert not (out / "dent" / f"{plain:010d}.png").exists()  # the machine's regions: not a label
    with open(out / "manifest.csv", encoding="utf-8") as file:
        rows = {int(r["inspection_id"]): r for r in csv.DictReader(file)}
    assert [rows[p]["mask_from"] for p in (painted, boxed, both, plain)] == [
        "mask",
        "box",
        "mask",
        "",
    ]
    assert get_inspection(engine, boxed).verdict is Verdict.REJECT  # type: ignore[union-attr]


def test_export_skips_a_part_whose_mask_file_is_gone_and_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    store = ImageStore(tmp_path / "images")
    part = _part(engine, store, 1)
    review = add_corrected_review(
        engine, store, part, reviewer="qa", decision="confirm", defect_class="scratch",
        mask=_painted(),
    )  # fmt: skip
    store.path(review.mask_path).unlink()  # type: ignore[arg-type]
    result = export_reviewed_dataset(engine, store, tmp_path / "export")
    [(skipped, reason)] = result.skipped
    assert skipped == part
    assert "is missing or damaged; review the part again" in reason
    assert dict(result.per_class) == {}
