"""``check_dataset``: the import's checks on a folder in place, and drift from ``dataset.json``."""

from __future__ import annotations

from pathlib import Path

from inspector.training.dataset_import import check_dataset, import_dataset
from tests.unit.training.images import write_image, write_mask


def _imported(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    for i in range(3):
        write_image(source / "good" / f"g{i}.jpg", seed=i)
        write_image(source / "crack" / f"c{i}.jpg", seed=10 + i)
        write_mask(source / "crack" / f"c{i}.png")
    out = tmp_path / "dataset"
    import_dataset(source, out, fmt="folder")
    return out


def test_a_fresh_import_checks_clean(tmp_path: Path) -> None:
    out = _imported(tmp_path)
    report = check_dataset(out)
    assert report.errors == ()
    assert (dict(report.classes), dict(report.masks)) == ({"crack": 3, "good": 3}, {"crack": 3})


def test_files_changed_added_or_removed_after_the_import_are_errors(tmp_path: Path) -> None:
    out = _imported(tmp_path)
    write_image(out / "good" / "g0.jpg", seed=99)  # replaced
    write_image(out / "good" / "new.jpg", seed=98)  # added
    (out / "crack" / "c1.jpg").unlink()  # removed, its mask left behind
    write_mask(out / "crack" / "c2.png", box=(0, 0, 1, 1))  # mask redrawn

    report = check_dataset(out)

    problems = {(p.kind, p.item): p.message for p in report.errors}
    assert "changed since it was imported" in problems["manifest_mismatch", "good/g0.jpg"]
    assert "not listed" in problems["manifest_mismatch", "good/new.jpg"]
    assert "not found" in problems["manifest_mismatch", "crack/c1.jpg"]
    assert "mask of crack/c2.jpg changed" in problems["manifest_mismatch", "crack/c2.png"]
    # c1.png is now a PNG image without its JPEG, and black-and-white: a lost mask
    assert ("orphan_mask", "crack/c1.png") in problems
    assert len(problems) == 5


def test_a_damaged_manifest_or_none_at_all(tmp_path: Path) -> None:
    out = _imported(tmp_path)
    (out / "dataset.json").write_text("{not json")
    [problem] = check_dataset(out).errors
    assert (problem.kind, problem.item) == ("manifest_unreadable", "dataset.json")

    (out / "dataset.json").unlink()
    write_mask(out / "crack" / "c0.png", size=(9, 9))
    [problem] = check_dataset(out).errors
    assert (problem.kind, problem.item) == ("mask_size", "crack/c0.jpg")
    assert "mask c0.png is 9x9 but its image is 20x16" in problem.message
