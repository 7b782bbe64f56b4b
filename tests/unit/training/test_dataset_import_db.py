"""Import of reviewed inspections from a real station database and image store."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.core import Verdict
from inspector.core.errors import SourceError
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections, get_inspection
from inspector.storage.reviews import add_review
from inspector.training.dataset_import import import_dataset
from tests.records import new_record
from tests.unit.training.images import write_mask

WHEN = datetime(2026, 5, 10, 8, 30, tzinfo=UTC)
SIZE = (24, 32)


def _part(engine, store: ImageStore, part_id: int, verdict: Verdict, keep: bool = True) -> int:
    image = np.random.default_rng(part_id).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    when = WHEN + timedelta(seconds=part_id)
    path = (
        store.save(image, captured_at=when, station="s", part_id=part_id, verdict=verdict)
        if keep
        else None
    )
    record = new_record(captured_at=when, station="s", part_id=part_id, verdict=verdict)
    return add_inspections(engine, [replace(record, image_path=path, score=0.8)])[0]


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """A station's data folder: ``line.db`` and ``images/``, with five reviewed parts."""
    database = tmp_path / "station" / "line.db"
    engine = open_database(database)
    store = ImageStore.beside(database)
    good = _part(engine, store, 1, Verdict.REJECT)
    crack = _part(engine, store, 2, Verdict.REJECT)
    escape = _part(engine, store, 3, Verdict.ACCEPT)
    no_image = _part(engine, store, 4, Verdict.REJECT, keep=False)
    deleted = _part(engine, store, 5, Verdict.REJECT)
    write_mask(store.root / "masks" / "2.png", size=SIZE, box=(4, 5, 6, 7))
    add_review(engine, good, reviewer="qa", decision="false_reject")
    add_review(
        engine,
        crack,
        reviewer="anna",
        decision="confirm",
        defect_class="crack",
        box=(4, 5, 6, 7),
        mask_path="masks/2.png",
    )
    add_review(
        engine, escape, reviewer="qa", decision="reclassify", defect_class="dent", box=(1, 2, 3, 4)
    )
    add_review(engine, no_image, reviewer="qa", decision="confirm", defect_class="crack")
    add_review(engine, deleted, reviewer="qa", decision="confirm", defect_class="crack")
    store.path(get_inspection(engine, deleted).image_path).unlink()  # type: ignore[union-attr, arg-type]
    engine.dispose()
    return database


def test_reviewed_inspections_become_labelled_samples(station: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"

    report = import_dataset(str(station), out, fmt="db").report

    assert dict(report.classes) == {"crack": 1, "dent": 1, "good": 1}
    assert {(p.kind, p.item) for p in report.errors} == {
        ("not_exported", "inspection 4"),
        ("not_exported", "inspection 5"),
    }
    manifest = json.loads((out / "dataset.json").read_text())
    entries = {e["origin"]["inspection_id"]: e for e in manifest["images"]}
    crack = entries[2]
    assert crack["class"] == "crack" and crack["mask_source"] == "file"
    assert crack["boxes"] == [{"class": "crack", "bbox": [4, 5, 6, 7]}]
    assert (crack["origin"]["reviewer"], crack["origin"]["decision"]) == ("anna", "confirm")
    dent = entries[3]
    # The review export writes a corrected box as the part's mask file (the box filled in).
    assert (dent["class"], dent["mask_source"], dent["origin"]["machine_verdict"]) == (
        "dent",
        "file",
        "accept",
    )
    mask = cv2.imread(str(out / dent["mask"]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == SIZE and int(mask.sum()) == 255 * 3 * 4
    assert mask[2:6, 1:4].all()  # box (x 1, y 2, w 3, h 4)
    assert entries[1]["class"] == "good" and entries[1]["mask"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "station"]


def test_a_sqlite_url_finds_the_images_beside_its_file(station: Path, tmp_path: Path) -> None:
    report = import_dataset(f"sqlite:///{station}", tmp_path / "out", fmt="db").report
    assert report.kept == 3


def test_database_problems_are_refused_before_anything_is_written(
    station: Path, tmp_path: Path
) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        import_dataset(str(tmp_path / "nope.db"), tmp_path / "out", fmt="db")
    with pytest.raises(SourceError, match="image store .* does not exist"):
        import_dataset(str(station), tmp_path / "out", fmt="db", images=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="overlaps the source"):
        import_dataset(str(station), station.parent, fmt="db", force=True)
    with pytest.raises(ValueError, match="overlaps the source"):
        import_dataset(f"sqlite:///{station}", station.parent, fmt="db", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["station"]
    assert not (tmp_path / "nope.db").exists()
