"""Reviews: append-only records beside the machine's verdict, the queue, the dataset export."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from inspector.core import Defect, Inspection, Verdict
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import (
    add_inspections,
    get_inspection,
    record_from_inspection,
)
from inspector.storage.review_export import export_reviewed_dataset
from inspector.storage.review_masks import save_review_mask
from inspector.storage.reviews import (
    ReviewDecision,
    add_review,
    latest_reviews,
    review_counts,
    review_history,
    review_queue,
)
from tests.records import database_at, downgrade, new_record, plain_engine
from tests.unit.storage.conftest import LineWriting

MakeInspection = Callable[..., Inspection]
MakeDefect = Callable[..., Defect]
WHEN = datetime(2026, 5, 10, 8, 30, 15, 250000, tzinfo=UTC)


def _add(engine: Engine, *inspections: Inspection, station: str = "line-1") -> list[int]:
    return add_inspections(engine, [record_from_inspection(i, station, None) for i in inspections])


def test_review_is_stored_with_reviewer_and_time_and_never_changes_the_verdict(
    engine: Engine, make_inspection: MakeInspection, make_defect: MakeDefect
) -> None:
    [part] = _add(engine, make_inspection(1, Verdict.REJECT, score=0.9, defects=(make_defect(),)))
    with engine.connect() as connection:
        before = connection.execute(text("SELECT * FROM inspections")).all()
    review = add_review(
        engine, part, reviewer=" anna ", decision="false_reject", note="dust", reviewed_at=WHEN
    )
    assert (review.reviewer, review.decision, review.reviewed_at) == (
        "anna",
        ReviewDecision.FALSE_REJECT,
        WHEN,
    )
    with engine.connect() as connection:
        assert connection.execute(text("SELECT * FROM inspections")).all() == before
    stored = get_inspection(engine, part)
    assert stored is not None and stored.verdict is Verdict.REJECT
    [again] = latest_reviews(engine, [part]).values()
    assert (again.id, again.reviewer, again.reviewed_at, again.note) == (
        review.id,
        "anna",
        WHEN,
        "dust",
    )
    assert again.reviewed_at.tzinfo is not None


def test_a_second_review_is_appended_and_the_newest_one_counts(
    engine: Engine, make_inspection: MakeInspection
) -> None:
    [part] = _add(engine, make_inspection(1, Verdict.REVIEW, score=0.47))
    first = add_review(engine, part, reviewer="anna", decision="false_reject", reviewed_at=WHEN)
    # A clock set back on the second workstation must not make the first review win.
    second = add_review(
        engine,
        part,
        reviewer="ben",
        decision=ReviewDecision.CONFIRM,
        defect_class="scratch",
        box=(4, 5, 10, 12),
        reviewed_at=WHEN - timedelta(hours=1),
    )
    assert [r.id for r in review_history(engine, part)] == [first.id, second.id]
    latest = latest_reviews(engine, [part, 999])
    assert list(latest) == [part]
    assert (latest[part].reviewer, latest[part].defect_class, latest[part].box) == (
        "ben",
        "scratch",
        (4, 5, 10, 12),
    )
    assert review_counts(engine) == {(Verdict.REVIEW, ReviewDecision.CONFIRM): 1}


def test_review_queue_lists_unreviewed_rejects_and_reviews_newest_first(
    engine: Engine, make_inspection: MakeInspection
) -> None:
    verdicts = [Verdict.ACCEPT, Verdict.REJECT, Verdict.REVIEW, Verdict.REJECT, Verdict.ACCEPT]
    ids = _add(engine, *(make_inspection(i, v) for i, v in enumerate(verdicts)))
    [other_station] = _add(engine, make_inspection(9, Verdict.REJECT), station="line-2")
    assert [p.id for p in review_queue(engine)] == [other_station, ids[3], ids[2], ids[1]]
    add_review(engine, ids[3], reviewer="qa", decision="confirm", defect_class="dent")
    queue = review_queue(engine, limit=2, station="line-1")
    assert [p.id for p in queue] == [ids[2], ids[1]]
    assert all(p.station == "line-1" for p in queue)
    with pytest.raises(ValueError, match="at least 1"):
        review_queue(engine, limit=0)


@pytest.mark.parametrize(
    ("verdict", "kwargs", "message"),
    [
        (Verdict.ACCEPT, {"decision": "false_reject"}, "cannot be a false reject"),
        (Verdict.REJECT, {"decision": "reclassify"}, "needs a defect_class"),
        (Verdict.REJECT, {"decision": "confirm"}, "needs a defect_class"),
        (Verdict.ACCEPT, {"decision": "reclassify"}, "needs a defect_class"),
        (Verdict.REJECT, {"decision": "false_reject", "defect_class": "dent"}, "judged good"),
        (Verdict.ACCEPT, {"decision": "confirm", "box": (1, 1, 2, 2)}, "judged good"),
        (Verdict.REJECT, {"decision": "reclassify", "defect_class": "good"}, "not 'good'"),
        (Verdict.REJECT, {"decision": "reclassify", "defect_class": "../x"}, "letters, digits"),
        (Verdict.REJECT, {"decision": "reclassify", "defect_class": "a b"}, "letters, digits"),
        (
            Verdict.REJECT,
            {"decision": "confirm", "defect_class": "dent", "box": (1, 1, 0, 2)},
            "w, h > 0",
        ),
        (
            Verdict.REJECT,
            {"decision": "confirm", "defect_class": "dent", "mask_path": "/etc/mask.png"},
            "relative to the image store",
        ),
        (
            Verdict.REJECT,
            {"decision": "confirm", "defect_class": "dent", "mask_path": "../mask.png"},
            "relative to the image store",
        ),
        (Verdict.REJECT, {"decision": "maybe"}, "use one of confirm, false_reject, reclassify"),
        (Verdict.REJECT, {"decision": "false_reject", "reviewer": "  "}, "reviewer must be"),
        (
            Verdict.REJECT,
            {"decision": "false_reject", "reviewed_at": datetime(2026, 5, 10)},
            "timezone-aware",
        ),
    ],
)
def test_inconsistent_reviews_are_refused_and_nothing_is_stored(
    engine: Engine,
    make_inspection: MakeInspection,
    verdict: Verdict,
    kwargs: dict[str, object],
    message: str,
) -> None:
    [part] = _add(engine, make_inspection(1, verdict))
    arguments: dict[str, object] = {"reviewer": "qa", **kwargs}
    with pytest.raises(ValueError, match=message):
        add_review(engine, part, **arguments)  # type: ignore[arg-type]
    assert review_history(engine, part) == []


def test_review_of_a_missing_part_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="no inspection with id 42"):
        add_review(engine, 42, reviewer="qa", decision="false_reject")


@pytest.mark.parametrize(
    "values",
    [
        "1, 'qa', '2026-05-10 00:00:00.000000', 'maybe', NULL",
        "1, 'qa', '2026-05-10 00:00:00.000000', 'reclassify', NULL",
        "1, 'qa', '2026-05-10 00:00:00.000000', 'false_reject', 'dent'",
        "1, '', '2026-05-10 00:00:00.000000', 'false_reject', NULL",
        "77, 'qa', '2026-05-10 00:00:00.000000', 'false_reject', NULL",
    ],
)
def test_the_database_itself_refuses_bad_reviews_written_around_the_api(
    engine: Engine, make_inspection: MakeInspection, values: str
) -> None:
    _add(engine, make_inspection(1, Verdict.REJECT))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reviews (inspection_id, reviewer, reviewed_at, decision, "
                f"defect_class) VALUES ({values})"
            )
        )


def test_database_refuses_half_a_box(engine: Engine, make_inspection: MakeInspection) -> None:
    _add(engine, make_inspection(1, Verdict.REJECT))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reviews (inspection_id, reviewer, reviewed_at, decision, "
                "defect_class, box_x) VALUES (1, 'qa', '2026-05-10 00:00:00.000000', "
                "'confirm', 'dent', 3)"
            )
        )


def _store_part(
    engine: Engine, store: ImageStore, part_id: int, verdict: Verdict, *, keep_image: bool = True
) -> int:
    captured_at = WHEN + timedelta(seconds=part_id)
    image = np.full((8, 10, 3), part_id * 20, dtype=np.uint8)
    path = (
        store.save(image, captured_at=captured_at, station="s", part_id=part_id, verdict=verdict)
        if keep_image
        else None
    )
    record = new_record(
        captured_at=captured_at,
        station="s",
        part_id=part_id,
        verdict=verdict,
        score=0.8,
        image_path=path,
    )
    return add_inspections(engine, [record])[0]


def test_export_writes_folder_per_class_with_masks_and_a_manifest(
    engine: Engine, tmp_path: Path
) -> None:
    store = ImageStore(tmp_path / "data" / "images")
    false_reject = _store_part(engine, store, 1, Verdict.REJECT)
    confirmed = _store_part(engine, store, 2, Verdict.REJECT)
    escape = _store_part(engine, store, 3, Verdict.ACCEPT)
    audited_good = _store_part(engine, store, 4, Verdict.ACCEPT)
    changed_mind = _store_part(engine, store, 5, Verdict.REVIEW)
    no_image = _store_part(engine, store, 6, Verdict.REJECT, keep_image=False)
    _store_part(engine, store, 7, Verdict.REJECT)  # never reviewed: not exported
    painted = np.zeros((8, 10), np.uint8)
    painted[2:5, 3:7] = 255
    mask = save_review_mask(store, painted, inspection_id=confirmed, reviewed_at=WHEN)
    add_review(engine, false_reject, reviewer="qa", decision="false_reject")
    add_review(
        engine, confirmed, reviewer="qa", decision="confirm", defect_class="crack", mask_path=mask
    )
    add_review(engine, escape, reviewer="qa", decision="reclassify", defect_class="dent")
    add_review(engine, audited_good, reviewer="qa", decision="confirm")
    add_review(engine, changed_mind, reviewer="qa", decision="confirm", defect_class="dent")
    add_review(engine, changed_mind, reviewer="lead", decision="false_reject")
    add_review(engine, no_image, reviewer="qa", decision="confirm", defect_class="crack")

    out = tmp_path / "export"
    result = export_reviewed_dataset(engine, store, out)

    assert result.out_dir == out
    assert dict(result.per_class) == {"crack": 1, "dent": 1, "good": 3}
    assert result.skipped == ((no_image, "image not kept"),)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        f"crack/{confirmed:010d}.jpg",
        f"crack/{confirmed:010d}.png",
        f"dent/{escape:010d}.jpg",
        f"good/{false_reject:010d}.jpg",
        f"good/{audited_good:010d}.jpg",
        f"good/{changed_mind:010d}.jpg",
        "manifest.csv",
    ]
    assert (out / f"good/{false_reject:010d}.jpg").read_bytes() == (
        store.path(get_inspection(engine, false_reject).image_path).read_bytes()  # type: ignore[union-attr, arg-type]
    )
    with open(out / "manifest.csv", encoding="utf-8") as file:
        manifest = {int(row["inspection_id"]): row for row in csv.DictReader(file)}
    assert set(manifest) == {false_reject, confirmed, escape, audited_good, changed_mind}
    assert manifest[changed_mind]["reviewer"] == "lead"
    assert manifest[changed_mind]["machine_verdict"] == "review"
    assert manifest[confirmed]["mask"] == f"crack/{confirmed:010d}.png"
    assert manifest[confirmed]["mask_from"] == "mask"
    exported = cv2.imread(str(out / f"crack/{confirmed:010d}.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(exported, painted)
    assert manifest[escape]["class"] == "dent"
    assert not list(tmp_path.glob(".export.partial"))


def test_export_skips_an_image_that_retention_deleted(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    kept = _store_part(engine, store, 1, Verdict.REJECT)
    deleted = _store_part(engine, store, 2, Verdict.REJECT)
    for part in (kept, deleted):
        add_review(engine, part, reviewer="qa", decision="false_reject")
    store.path(get_inspection(engine, deleted).image_path).unlink()  # type: ignore[union-attr, arg-type]
    result = export_reviewed_dataset(engine, store, tmp_path / "export")
    assert dict(result.per_class) == {"good": 1}
    [(part, reason)] = result.skipped
    assert part == deleted
    assert reason.startswith("cannot copy") and "No such file" in reason
    assert [p.name for p in (tmp_path / "export" / "good").iterdir()] == [f"{kept:010d}.jpg"]


def test_export_refuses_a_folder_with_files_in_it(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "old_export"
    out.mkdir()
    (out / "stale.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match="not empty; choose a new or empty folder"):
        export_reviewed_dataset(engine, ImageStore(tmp_path / "images"), out)
    assert [p.name for p in out.iterdir()] == ["stale.jpg"]


def test_export_never_reads_or_writes_outside_its_folders(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "data" / "images")
    secret = tmp_path / "data" / "secret.jpg"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(b"not for export")
    part = _store_part(engine, store, 1, Verdict.REJECT)
    with engine.begin() as connection:  # a corrupted record pointing out of the store
        connection.execute(text("UPDATE inspections SET image_path = '../secret.jpg'"))
        connection.execute(
            text(
                "INSERT INTO reviews (inspection_id, reviewer, reviewed_at, decision, "
                "defect_class) VALUES (:id, 'qa', '2026-05-10 00:00:00.000000', 'confirm', "
                "'../../escaped')"
            ),
            {"id": part},
        )
    out = tmp_path / "export"
    result = export_reviewed_dataset(engine, store, out)
    assert [reason for _, reason in result.skipped] == [
        "class '../../escaped' cannot be a folder name"
    ]
    with engine.begin() as connection:
        connection.execute(text("UPDATE reviews SET defect_class = 'dent'"))
    second = export_reviewed_dataset(engine, store, tmp_path / "export2")
    assert "leads outside the image store" in second.skipped[0][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "export", "export2"]
    assert [p.name for p in (tmp_path / "export2").iterdir()] == ["manifest.csv"]


def test_deleting_a_part_deletes_its_reviews(
    engine: Engine, make_inspection: MakeInspection
) -> None:
    [part] = _add(engine, make_inspection(1, Verdict.REJECT))
    add_review(engine, part, reviewer="qa", decision="false_reject")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM inspections"))
    assert review_history(engine, part) == []


def test_upgrading_a_first_schema_database_keeps_its_records_and_adds_reviews(
    database_url: Path | str,
) -> None:
    database_at(database_url, "0001")

    engine = open_database(database_url)
    add_review(engine, 1, reviewer="qa", decision="false_reject")
    stored = get_inspection(engine, 1)
    assert stored is not None and stored.verdict is Verdict.REJECT
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("inspections")}
    assert "ix_inspections_station_captured_at" in indexes
    engine.dispose()

    downgrade(database_url, "0001")  # and back down: reviews go, records stay
    down = plain_engine(database_url)
    assert "reviews" not in inspect(down).get_table_names()
    with down.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM inspections")).scalar() == 1
    down.dispose()


def test_a_review_waits_for_a_line_writing_meanwhile_instead_of_failing(
    sqlite_engine: Engine, make_inspection: MakeInspection, line_writes_meanwhile: LineWriting
) -> None:
    """The review reads the part, then writes: a writer (the line) committing in between
    must make it wait, not fail with "database is locked" (a stale read snapshot cannot
    be upgraded to a write, and no busy timeout waits that out)."""
    [part] = _add(sqlite_engine, make_inspection(1, Verdict.REJECT, score=0.9))
    with line_writes_meanwhile():
        review = add_review(sqlite_engine, part, reviewer="anna", decision="false_reject")
    assert latest_reviews(sqlite_engine, [part])[part].id == review.id
