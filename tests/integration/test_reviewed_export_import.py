"""Round trip: reviews with corrected regions → exported dataset → ``inspector dataset import``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.cli import main
from inspector.core import Defect, Verdict
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections
from inspector.storage.review_export import export_reviewed_dataset
from inspector.storage.review_masks import add_corrected_review
from tests.records import new_record

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


def test_the_exported_corrections_import_as_masks_of_the_right_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "station" / "inspections.db"
    engine = open_database(db)
    store = ImageStore.beside(db)
    rng = np.random.default_rng(3)
    ids = []
    for i in range(4):
        when = T0 + timedelta(minutes=i)
        image = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)  # distinct: no duplicates
        path = store.save(image, captured_at=when, station="s", part_id=i, verdict="reject")
        record = new_record(
            captured_at=when,
            station="s",
            part_id=i,
            verdict=Verdict.REJECT,
            score=0.9,
            image_path=path,
            defects=(Defect("scratch", 0.9, (1, 1, 6, 6), 36),),
        )
        ids.extend(add_inspections(engine, [record]))
    brush = np.zeros((40, 48), np.uint8)
    cv2.line(brush, (5, 30), (40, 8), 255, thickness=5)
    add_corrected_review(
        engine, store, ids[0], reviewer="qa", decision="confirm", defect_class="scratch",
        mask=brush,
    )  # fmt: skip
    add_corrected_review(
        engine, store, ids[1], reviewer="qa", decision="reclassify", defect_class="crack",
        box=(10, 12, 20, 8),
    )  # fmt: skip
    add_corrected_review(engine, store, ids[2], reviewer="qa", decision="false_reject")
    add_corrected_review(engine, store, ids[3], reviewer="qa", decision="false_reject")
    export = export_reviewed_dataset(engine, store, tmp_path / "reviewed")
    engine.dispose()
    assert dict(export.per_class) == {"crack": 1, "good": 2, "scratch": 1}

    out = tmp_path / "dataset"
    argv = ["dataset", "import", "--format", "folder", str(export.out_dir), "--out", str(out)]
    code = main([*argv, "--strict"])

    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "0 error(s)" in printed
    manifest = json.loads((out / "dataset.json").read_text())
    entries = {Path(e["path"]).stem: e for e in manifest["images"]}
    assert {stem: e["class"] for stem, e in entries.items()} == {
        f"{ids[0]:010d}": "scratch",
        f"{ids[1]:010d}": "crack",
        f"{ids[2]:010d}": "good",
        f"{ids[3]:010d}": "good",
    }
    scratch = cv2.imread(str(out / entries[f"{ids[0]:010d}"]["mask"]), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(scratch, brush)
    crack = cv2.imread(str(out / entries[f"{ids[1]:010d}"]["mask"]), cv2.IMREAD_UNCHANGED)
    assert crack.shape == (40, 48)
    assert np.count_nonzero(crack) == 20 * 8 and crack[12:20, 10:30].all()
    assert entries[f"{ids[2]:010d}"]["mask"] is None
