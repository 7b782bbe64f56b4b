"""Pascal VOC import: layouts, class of the largest box, boxes kept and drawn, errors named."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.core.errors import SourceError
from inspector.training.dataset_import import import_dataset
from inspector.training.voc import find_voc_sets, scan_voc
from tests.unit.training.images import truncate, write_image

SIZE = (16, 20)  # height, width of every test image


def _xml(filename: str, *objects: tuple[str, int, int, int, int], size=(20, 16)) -> str:
    boxes = "".join(
        f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x0}</xmin>"
        f"<ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1 in objects
    )
    return (
        f"<annotation><folder>VOC2007</folder><filename>{filename}</filename><size>"
        f"<width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"
        f"{boxes}</annotation>"
    )


def _voc(root: Path) -> Path:
    """A devkit-style set, one level down, with one of each VOC problem."""
    voc = root / "VOCdevkit" / "VOC2007"
    annotations, images = voc / "Annotations", voc / "JPEGImages"
    annotations.mkdir(parents=True)
    for i, name in enumerate(("ok", "two", "empty", "outside", "broken", "nobox", "size")):
        write_image(images / f"{name}.jpg", seed=i)
    write_image(images / "orphan.jpg", seed=20)  # no XML names it
    write_image(images / "bystem.jpg", seed=21)
    truncate(write_image(images / "cut.jpg", seed=22))
    files = {
        "ok": _xml("ok.jpg", ("scratch", 2, 3, 7, 7)),
        "two": _xml("two.jpg", ("dent", 1, 1, 3, 3), ("scratch", 5, 5, 15, 12)),
        "empty": _xml("empty.jpg"),
        "outside": _xml("outside.jpg", ("dent", 10, 4, 23, 8)),  # 3 px out; 1 px is clipped
        "broken": "<annotation><filename>broken.jpg</filename><object>",
        "nobox": _xml("nobox.jpg", ("dent", 4, 4, 4, 9)),
        "size": _xml("size.jpg", ("dent", 1, 1, 3, 3), size=(40, 16)),
        "bystem": _xml("C:\\labelling\\renamed-later.png", ("dent", 0, 0, 20, 16)),
        "cut": _xml("cut.jpg"),
        "lost": _xml("lost.jpg", ("dent", 1, 1, 2, 2)),
    }
    for stem, text in files.items():
        (annotations / f"{stem}.xml").write_text(text)
    return root / "VOCdevkit"


def test_voc_import_classes_boxes_masks_and_problems(tmp_path: Path) -> None:
    source = _voc(tmp_path)
    out = tmp_path / "out"

    report = import_dataset(source, out, fmt="voc").report

    assert dict(report.classes) == {"dent": 1, "good": 1, "scratch": 2}
    kinds = {(p.kind, p.item) for p in report.errors}
    assert kinds == {
        ("box_outside_image", "JPEGImages/outside.jpg"),
        ("voc_xml", "Annotations/broken.xml"),
        ("empty_box", "JPEGImages/nobox.jpg"),
        ("size_mismatch", "JPEGImages/size.jpg"),
        ("unannotated_image", "JPEGImages/orphan.jpg"),
        ("unreadable_image", "JPEGImages/cut.jpg"),
        ("missing_image", "Annotations/lost.xml"),
    }
    manifest = json.loads((out / "dataset.json").read_text())
    entries = {Path(e["source"]).stem: e for e in manifest["images"]}
    assert entries["two"]["class"] == "scratch"  # the larger of its two boxes
    assert entries["two"]["boxes"] == [
        {"class": "dent", "bbox": [1, 1, 2, 2]},
        {"class": "scratch", "bbox": [5, 5, 10, 7]},
    ]
    assert entries["two"]["origin"] == {"annotation": "Annotations/two.xml"}
    assert entries["empty"]["class"] == "good" and entries["empty"]["mask"] is None
    assert entries["bystem"]["class"] == "dent"  # <filename> not found: same stem as the XML

    mask = cv2.imread(str(out / entries["two"]["mask"]), cv2.IMREAD_UNCHANGED)
    assert entries["two"]["mask_source"] == "boxes" and mask.shape == SIZE
    expected = np.zeros(SIZE, np.uint8)
    expected[1:3, 1:3] = 255
    expected[5:12, 5:15] = 255
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize("layout", ["flat", "neu", "annotations-given"])
def test_common_voc_layouts_are_found(tmp_path: Path, layout: str) -> None:
    if layout == "flat":  # LabelImg / Roboflow: XML beside the image
        source = tmp_path / "set"
        write_image(source / "a.jpg", seed=1)
        (source / "a.xml").write_text(_xml("a.jpg", ("crazing", 1, 1, 5, 5)))
    else:  # NEU-DET: ANNOTATIONS/ + IMAGES/<class>/
        source = tmp_path / "NEU-DET"
        write_image(source / "IMAGES" / "crazing" / "a.jpg", seed=1)
        (source / "ANNOTATIONS").mkdir(parents=True)
        (source / "ANNOTATIONS" / "a.xml").write_text(_xml("a", ("crazing", 1, 1, 5, 5)))
        if layout == "annotations-given":
            source = source / "ANNOTATIONS"

    scan = scan_voc(source)

    [sample] = scan.samples
    assert (sample.image.name, sample.label, scan.problems) == ("a.jpg", "crazing", ())


def test_a_folder_without_voc_annotations_is_refused(tmp_path: Path) -> None:
    write_image(tmp_path / "plain" / "a.jpg", seed=1)
    with pytest.raises(SourceError, match="no Pascal VOC annotations"):
        find_voc_sets(tmp_path / "plain")


def test_several_sets_are_imported_together_and_said_so(tmp_path: Path) -> None:
    """NEU-DET as often downloaded: train/ and validation/, each annotations/ + images/<class>/."""
    source = tmp_path / "NEU-DET"
    for n, split in enumerate(("train", "validation")):
        write_image(source / split / "images" / "crazing" / "crazing_1.jpg", seed=n)
        (source / split / "annotations").mkdir(parents=True)
        xml = _xml("crazing_1.jpg", ("crazing", 1, 1, 5, 5))
        (source / split / "annotations" / "crazing_1.xml").write_text(xml)

    scan = scan_voc(source)

    assert sorted(s.item for s in scan.samples) == [
        "train/images/crazing/crazing_1.jpg",
        "validation/images/crazing/crazing_1.jpg",
    ]
    [problem] = scan.problems
    assert problem.kind == "several_sets" and problem.severity.value == "warning"
    assert "2 VOC sets (train/annotations, validation/annotations)" in problem.message


def test_a_box_labelled_good_is_refused(tmp_path: Path) -> None:
    write_image(tmp_path / "set" / "a.jpg", seed=1)
    (tmp_path / "set" / "a.xml").write_text(_xml("a.jpg", ("Good", 1, 1, 5, 5)))
    [problem] = scan_voc(tmp_path / "set").problems
    assert problem.kind == "voc_xml" and "the defect-free class" in problem.message


def _tool_xml(filename: str, path: str, *objects: tuple[str, int, int, int, int, int]) -> str:
    """An annotation as labelling tools write it: folder, path, source, flags, grey depth."""
    boxes = "".join(
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>{flag}</truncated>"
        f"<difficult>{flag}</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1, flag in objects
    )
    return (
        f"<annotation><folder>cr</folder><filename>{filename}</filename><path>{path}</path>"
        "<source><database>NEU-DET</database></source><size><width>20</width>"
        f"<height>16</height><depth>1</depth></size><segmented>0</segmented>{boxes}</annotation>"
    )


@pytest.mark.parametrize("image_sets", [False, True])
def test_typical_voc_quirks_are_imported_and_mixed_classes_reported(
    tmp_path: Path, image_sets: bool
) -> None:
    source = tmp_path / "set"
    images = source / "JPEGImages"
    files = {  # image file -> (<filename>, objects)
        "noext.jpg": ("noext", [("crazing", 1, 1, 9, 9, 0)]),
        "upper.JPG": ("upper.jpg", [("crazing", 2, 2, 8, 8, 1)]),
        "bitmap.bmp": ("bitmap.jpg", [("scratches", 0, 0, 20, 16, 1)]),
        "lossless.png": ("lossless.png", [("scratches", 3, 3, 21, 17, 0)]),  # 1-based, to the edge
        "clean.jpg": ("clean.jpg", []),
        "both.jpg": ("both.jpg", [("crazing", 1, 1, 3, 3, 0), ("scratches", 4, 4, 19, 15, 1)]),
    }
    (source / "Annotations").mkdir(parents=True)
    for seed, (name, (filename, objects)) in enumerate(files.items()):
        write_image(images / name, seed=seed)
        elsewhere = f"C:\\Users\\labeller\\Desktop\\NEU-DET\\IMAGES\\{filename}"
        xml = _tool_xml(filename, elsewhere, *objects)
        (source / "Annotations" / f"{Path(name).stem}.xml").write_text(xml)
    if image_sets:
        (source / "ImageSets" / "Main").mkdir(parents=True)
        (source / "ImageSets" / "Main" / "train.txt").write_text("noext\nupper\n")

    result = import_dataset(source, tmp_path / "out", fmt="voc")

    report = result.report
    assert report.errors == ()
    assert dict(report.classes) == {"crazing": 2, "good": 1, "scratches": 3}
    [mixed] = [p for p in report.warnings if p.kind == "mixed_classes"]
    assert mixed.item == "JPEGImages/both.jpg"
    assert "crazing (1 box, 4 px²), scratches (1 box, 165 px²)" in mixed.message
    assert "imported as 'scratches'" in mixed.message
    manifest = json.loads((tmp_path / "out" / "dataset.json").read_text())
    sources = {e["source"]: e["class"] for e in manifest["images"]}
    assert sources["JPEGImages/bitmap.bmp"] == "scratches"
    assert sources["JPEGImages/upper.JPG"] == "crazing"
    [clipped] = [p for p in report.warnings if p.kind == "box_clipped"]
    assert clipped.item == "JPEGImages/lossless.png" and "ends 1 px past" in clipped.message
    [png] = [e for e in manifest["images"] if e["source"] == "JPEGImages/lossless.png"]
    assert png["boxes"] == [{"class": "scratches", "bbox": [3, 3, 17, 13]}]
