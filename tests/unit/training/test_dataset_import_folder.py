"""Folder-per-class import: every bad sample is excluded and named, the rest lands intact."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.core.errors import SourceError
from inspector.training.dataset_import import import_dataset, parse_classes
from inspector.training.evaluate import list_labelled_images
from tests.unit.training.images import truncate, write_image, write_mask


def _messy_source(root: Path) -> Path:
    """A class-folder dataset with one of each problem the import must catch."""
    for i in range(4):
        write_image(root / "good" / f"g{i}.jpg", seed=i)
    write_mask(root / "good" / "g0.png", box=(0, 0, 0, 0))  # an empty mask: fine for good
    write_image(root / "crack" / "c0.jpg", seed=10)
    write_mask(root / "crack" / "c0.png")
    write_image(root / "crack" / "c1.jpg", seed=11)
    write_mask(root / "crack" / "c1.png", size=(8, 20))  # wrong size
    truncate(write_image(root / "crack" / "c2.jpg", seed=12))
    shutil.copyfile(root / "crack" / "c0.jpg", root / "crack" / "c3.jpg")  # duplicate
    write_image(root / "crack" / "c4.png", seed=14)  # a PNG image: its mask is c4_mask.png
    write_mask(root / "crack" / "c4_mask.png", box=(1, 1, 3, 3))
    write_image(root / "crack" / "c5.jpg", seed=15)
    soft = np.zeros((16, 20), np.uint8)
    soft[4:8, 4:8], soft[3, 4:8] = 255, 100  # a soft edge, as magnetic-tile's masks have
    cv2.imwrite(str(root / "crack" / "c5.png"), soft)
    write_image(root / "crack" / "c6.jpg", seed=16)
    write_image(root / "crack" / "c6.png", seed=17)  # a photograph where the mask should be
    (root / "crack" / "readme.txt").write_text("notes")
    write_image(root / "dent" / "d1.jpg", seed=21)
    shutil.copyfile(root / "good" / "g1.jpg", root / "dent" / "d0.jpg")  # labelled twice
    write_mask(root / "dent" / "stray_mask.png")  # named as a mask, no stray.png
    write_image(root / "loose.jpg", seed=30)  # no class
    return root


def _kinds(report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in report.problems:
        found.setdefault(problem.kind, []).append(problem.item)
    return found


def test_folder_import_keeps_good_samples_and_reports_every_bad_one(tmp_path: Path) -> None:
    source = _messy_source(tmp_path / "src")
    out = tmp_path / "dataset"

    result = import_dataset(source, out, fmt="folder")

    report = result.report
    assert result.out_dir == out.absolute()
    assert dict(report.classes) == {"crack": 3, "dent": 1, "good": 3}
    assert dict(report.masks) == {"crack": 3, "good": 1}
    kinds = _kinds(report)
    assert kinds["mask_size"] == ["crack/c1.jpg"]
    assert kinds["unreadable_image"] == ["crack/c2.jpg"]
    assert kinds["duplicate"] == ["crack/c3.jpg"]
    assert kinds["mask_not_binary"] == ["crack/c6.jpg"]
    assert sorted(kinds["conflicting_labels"]) == ["dent/d0.jpg", "good/g1.jpg"]
    assert kinds["orphan_mask"] == ["dent/stray_mask.png"]
    assert kinds["no_class"] == ["loose.jpg"]
    assert kinds["ignored_file"] == ["crack/readme.txt"]
    assert kinds["mask_binarised"] == ["crack/c5.jpg"]
    assert report.excluded == 8
    assert {p.item for p in report.warnings} >= {"crack", "dent", "good"}  # all < 10 images

    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        *("crack/c0.jpg", "crack/c0.png", "crack/c4.png", "crack/c4_mask.png"),
        *("crack/c5.jpg", "crack/c5.png", "dataset.json", "dent/d1.jpg"),
        *("good/g0.jpg", "good/g0.png", "good/g2.jpg", "good/g3.jpg"),
    ]
    for name in ("crack/c0.jpg", "crack/c4.png", "good/g2.jpg"):
        assert (out / name).read_bytes() == (source / name).read_bytes()
    assert set(np.unique(cv2.imread(str(out / "crack/c5.png"), cv2.IMREAD_UNCHANGED))) == {0, 255}
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".source-" in p.name]

    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["source"]["format"] == "folder"
    assert manifest["classes"]["crack"] == {"images": 3, "masks": 3}
    for entry in manifest["images"]:
        assert entry["sha256"] == hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest()
    problems = manifest["import_report"]["problems"]
    assert {(p["kind"], p["item"]) for p in problems} == {(p.kind, p.item) for p in report.problems}

    labelled = {
        (i.path.name, i.mask_path.name if i.mask_path else None) for i in list_labelled_images(out)
    }
    assert ("c4.png", "c4_mask.png") in labelled and ("c0.jpg", "c0.png") in labelled
    assert len(labelled) == 7


def test_strict_import_fails_on_any_error_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_image(source / "good" / "a.jpg", seed=1)
    truncate(write_image(source / "good" / "b.jpg", seed=2))

    result = import_dataset(source, tmp_path / "out", fmt="folder", strict=True)

    assert result.out_dir is None
    assert [p.kind for p in result.report.errors] == ["unreadable_image"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_classes_limit_what_comes_in_and_good_is_always_allowed(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_image(source / "good" / "a.jpg", seed=1)
    write_image(source / "crack" / "b.jpg", seed=2)
    write_image(source / "dirt" / "c.jpg", seed=3)

    result = import_dataset(
        source, tmp_path / "out", fmt="folder", classes=parse_classes("crack,dent")
    )

    report = result.report
    assert dict(report.classes) == {"crack": 1, "good": 1}
    [unknown] = [p for p in report.errors]
    assert (unknown.kind, unknown.item) == ("unknown_class", "dirt/c.jpg")
    assert "not in --classes (crack, dent)" in unknown.message
    assert ("missing_class", "dent") in {(p.kind, p.item) for p in report.warnings}
    with pytest.raises(ValueError, match="cannot use '../x'"):
        parse_classes("crack,../x")


def test_class_names_and_stems_cannot_leave_the_dataset(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_image(source / "good" / "a.jpg", seed=1)
    write_image(source / "scratch mark" / "..odd name!.jpg", seed=2)
    write_image(source / "Dent" / "x.jpg", seed=3)
    write_image(source / "dent" / "y.jpg", seed=4)

    report = import_dataset(source, tmp_path / "out", fmt="folder").report

    out = tmp_path / "out"
    assert (out / "scratch_mark" / "odd_name.jpg").is_file()
    assert ("renamed_class", "scratch mark") in {(p.kind, p.item) for p in report.warnings}
    collisions = {p.item for p in report.errors if p.kind == "class_collision"}
    assert collisions == {"Dent/x.jpg", "dent/y.jpg"}
    every = [p.resolve() for p in out.rglob("*")]
    assert all(p.is_relative_to(out.resolve()) for p in every)


def test_a_png_image_cannot_overwrite_the_mask_of_a_jpeg_of_the_same_stem(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_image(source / "good" / "a.jpg", seed=1)
    write_image(source / "good" / "a.bmp", seed=2)  # both claim the mask name a.png

    import_dataset(source, tmp_path / "out", fmt="folder")

    names = sorted(p.name for p in (tmp_path / "out" / "good").iterdir())
    assert names == ["a-2.jpg", "a.bmp"]


def test_existing_output_is_refused_unless_force_replaces_an_earlier_import(
    tmp_path: Path,
) -> None:
    source = tmp_path / "src"
    write_image(source / "good" / "a.jpg", seed=1)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.txt").write_text("precious")
    with pytest.raises(ValueError, match="not empty: use --force"):
        import_dataset(source, other, fmt="folder")
    with pytest.raises(ValueError, match="not a dataset written by"):
        import_dataset(source, other, fmt="folder", force=True)
    assert (other / "thesis.txt").read_text() == "precious"

    out = tmp_path / "out"
    import_dataset(source, out, fmt="folder")
    write_image(source / "good" / "b.jpg", seed=2)
    with pytest.raises(ValueError, match="not empty"):
        import_dataset(source, out, fmt="folder")
    import_dataset(source, out, fmt="folder", force=True)
    assert sorted(p.name for p in (out / "good").iterdir()) == ["a.jpg", "b.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "out", "src"]


def test_output_inside_the_source_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_image(source / "good" / "a.jpg", seed=1)
    with pytest.raises(ValueError, match="overlaps the source"):
        import_dataset(source, source / "imported", fmt="folder")
    with pytest.raises(ValueError, match="overlaps the source"):
        import_dataset(source, tmp_path, fmt="folder", force=True)
    with pytest.raises(SourceError, match="does not exist"):
        import_dataset(tmp_path / "missing", tmp_path / "out", fmt="folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_an_interrupted_import_leaves_the_old_dataset_and_no_half_new_one(
    tmp_path: Path,
) -> None:
    source = tmp_path / "src"
    for i in range(4):
        write_image(source / "good" / f"g{i}.jpg", seed=i)
    out = tmp_path / "out"
    import_dataset(source, out, fmt="folder")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    write_image(source / "crack" / "c.jpg", seed=9)

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "import" and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_dataset(source, out, fmt="folder", force=True, progress=interrupt)

    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]
